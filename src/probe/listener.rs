//! Who listens at a TCP address: the listening sockets in
//! `/proc/net/tcp` and `/proc/net/tcp6`, and the processes whose file
//! descriptors hold them. It tells whether the server mcpstorm measures is the
//! one that answers — an orphan of an earlier run still holding the port would
//! answer every call while the new server's start-up read as a leak.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The most `/proc/net/tcp*` lines read: a busy host has thousands, never
/// millions, and the file is the kernel's.
const MAX_LINES: usize = 200_000;

/// Processes read when looking for a socket's owner.
const MAX_PROCESSES: usize = 100_000;

/// The inodes of the sockets listening at `address`: those bound to its very
/// IP if there are any (the kernel gives them the connection), else those
/// bound to the wildcard address.
pub fn listening_inodes(address: SocketAddr) -> Vec<u64> {
    let mut exact = Vec::new();
    let mut wildcard = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1).take(MAX_LINES) {
            let Some((local, inode)) = listening(line) else {
                continue;
            };
            if local.port() != address.port() {
                continue;
            }
            if same_ip(local.ip(), address.ip()) {
                exact.push(inode);
            } else if local.ip().is_unspecified() && reaches(local.ip(), address.ip()) {
                wildcard.push(inode);
            }
        }
    }
    if exact.is_empty() { wildcard } else { exact }
}

/// The processes holding any of `inodes` open (all that can be read: another
/// user's processes cannot be, unless mcpstorm runs as root).
pub fn holders(inodes: &[u64]) -> Vec<u32> {
    if inodes.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    super::procfs::all_pids()
        .take(MAX_PROCESSES)
        .filter(|pid| holds_any(*pid, &wanted))
        .collect()
}

fn holds_any(pid: u32, wanted: &[String]) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
    })
}

/// A LISTEN line's local address and inode.
fn listening(line: &str) -> Option<(SocketAddr, u64)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    if fields.get(3) != Some(&"0A") {
        return None;
    }
    let local = parse_address(fields.get(1)?)?;
    let inode = fields.get(9)?.parse().ok()?;
    Some((local, inode))
}

/// `0100007F:0BB9` (IPv4) or 32 hex digits and a port (IPv6): each 32-bit
/// word in the host's byte order, as the kernel prints it.
fn parse_address(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = ip.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The same IP, an IPv4 address and its IPv4-mapped IPv6 form included.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    canonical(a) == canonical(b)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether a wildcard listener of `listener`'s family takes connections to
/// `ip` (an IPv6 wildcard takes IPv4 too, unless the socket is v6-only,
/// which /proc does not say: counted as taking them).
fn reaches(listener: IpAddr, ip: IpAddr) -> bool {
    match (listener, canonical(ip)) {
        (IpAddr::V4(_), IpAddr::V4(_)) => true,
        (IpAddr::V6(_), _) => true,
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn reads_the_kernels_addresses() {
        assert_eq!(
            parse_address("0100007F:0BB9"),
            Some("127.0.0.1:3001".parse().unwrap())
        );
        assert_eq!(
            parse_address("00000000000000000000000001000000:1F90"),
            Some("[::1]:8080".parse().unwrap())
        );
        assert_eq!(parse_address("zz:1"), None);
        assert_eq!(parse_address("0100007F"), None);
    }

    #[test]
    fn finds_this_process_holding_its_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let inodes = listening_inodes(address);
        assert_eq!(inodes.len(), 1, "{address}");
        assert_eq!(holders(&inodes), vec![std::process::id()]);
        drop(listener);
        // Another test's child, forked before it exec'd, may hold a copy a
        // moment longer (and another test may listen on the port again):
        // only this process is sure to have let go.
        let after = holders(&listening_inodes(address));
        assert!(!after.contains(&std::process::id()), "{after:?}");
    }
}
