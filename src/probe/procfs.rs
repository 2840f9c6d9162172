//! Reading Linux `/proc`: the ground truth for every server-side figure.
//!
//! Each reader returns `None` when the process has gone between listing and
//! reading (a normal race while a tree churns), never an error.

use std::fs;
use std::sync::OnceLock;

/// What one process uses right now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessUsage {
    pub pid: u32,
    pub ppid: u32,
    /// The command name (`comm`), as `ps` shows it.
    pub name: String,
    pub rss_bytes: u64,
    pub fds: u32,
    pub threads: u32,
    /// User + system CPU time consumed so far, in clock ticks.
    pub cpu_ticks: u64,
}

/// Fields of `/proc/PID/stat` that we use.
#[derive(Debug, Clone, PartialEq)]
pub struct StatLine {
    pub name: String,
    /// The state letter: `Z` (zombie) and `X` (dead) have exited.
    pub state: char,
    pub ppid: u32,
    /// The process group.
    pub pgrp: u32,
    pub cpu_ticks: u64,
    pub threads: u32,
    /// `PF_EXITING` is set in its flags: it is on its way out, its memory
    /// being torn down before it becomes a zombie.
    pub exiting: bool,
}

/// The kernel's flag for a process in `do_exit` (include/linux/sched.h).
const PF_EXITING: u64 = 0x0000_0004;

fn sysconf(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for unknown names.
    let value = unsafe { libc::sysconf(name) };
    if value > 0 { value as u64 } else { fallback }
}

pub fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| sysconf(libc::_SC_PAGESIZE, 4096))
}

pub fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| sysconf(libc::_SC_CLK_TCK, 100))
}

/// Parse `/proc/PID/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<StatLine> {
    let name = text[text.find('(')? + 1..text.rfind(')')?].to_string();
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state); field N is fields[N - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(StatLine {
        name,
        state: fields.first()?.chars().next()?,
        ppid: field(4)? as u32,
        pgrp: field(5)? as u32,
        cpu_ticks: field(14)? + field(15)?,
        threads: field(20)? as u32,
        exiting: field(9).is_some_and(|flags| flags & PF_EXITING != 0),
    })
}

/// True while the process exists and is not a zombie waiting to be reaped.
/// A read that fails for another reason than the process being gone (this
/// process out of file descriptors, say) says nothing: the process is taken
/// to be alive, never declared crashed on mcpstorm's own trouble.
pub fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(text) => text
            .rfind(')')
            .and_then(|end| text[end + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(error) => !matches!(error.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH)),
    }
}

pub fn read_stat(pid: u32) -> Option<StatLine> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Resident set size from `/proc/PID/statm` (second field, in pages); the same
/// figure as `VmRSS` in `/proc/PID/status`, read more cheaply.
pub fn read_rss_bytes(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// Proportional set size from `/proc/PID/smaps_rollup` (`Pss:`, in kB): each
/// page shared by N processes counts 1/N in each, so a tree's sum counts a
/// forked child's shared pages once. `None` when it cannot be read (another
/// user's process, or a kernel older than 4.14).
pub fn read_pss_bytes(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    parse_pss(&text)
}

fn parse_pss(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Pss:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Whether the command line of `pid` (arguments joined by spaces) contains
/// `text`. The command line is only matched, never kept or shown: it may
/// hold secrets.
pub fn cmdline_contains(pid: u32, text: &str) -> bool {
    fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|bytes| {
        let joined: Vec<u8> = bytes
            .iter()
            .map(|&b| if b == 0 { b' ' } else { b })
            .collect();
        String::from_utf8_lossy(&joined).contains(text)
    })
}

/// Open file descriptors: the entries of `/proc/PID/fd`.
pub fn count_fds(pid: u32) -> Option<u32> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u32)
}

/// `None` for a process that is gone or a zombie (whose memory reads as 0).
pub fn read_usage(pid: u32) -> Option<ProcessUsage> {
    // Read while it exits, its RSS falls towards 0: the last reading before
    // stands, not this one. Its stat is read before and after its memory, so
    // an exit that begins in between is seen too.
    let exiting = |stat: &StatLine| stat.exiting || matches!(stat.state, 'Z' | 'X');
    let stat = read_stat(pid).filter(|s| !exiting(s))?;
    let rss_bytes = read_rss_bytes(pid)?;
    // A process we may not inspect (another user's) still counts for RSS.
    let fds = count_fds(pid).unwrap_or(0);
    read_stat(pid).filter(|s| !exiting(s))?;
    Some(ProcessUsage {
        pid,
        ppid: stat.ppid,
        rss_bytes,
        fds,
        threads: stat.threads,
        cpu_ticks: stat.cpu_ticks,
        name: stat.name,
    })
}

/// The pid of every process, from one pass over `/proc`.
pub fn all_pids() -> impl Iterator<Item = u32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

/// Live (not zombie) members of process group `pgid`: what is left of a
/// server's group once the server itself is gone.
pub fn live_group_members(pgid: u32) -> Vec<u32> {
    all_pids()
        .filter(|&pid| {
            read_stat(pid).is_some_and(|stat| stat.pgrp == pgid && !matches!(stat.state, 'Z' | 'X'))
        })
        .collect()
}

/// Every live process with its parent, from one pass over `/proc`.
pub fn all_parents() -> Vec<(u32, u32)> {
    all_pids()
        .filter_map(|pid| Some((pid, read_stat(pid)?.ppid)))
        .collect()
}

/// `root` and all its descendants, root first, parents before children.
///
/// Each member's `children` files (one per thread: any thread may fork) name
/// its direct children, so a sample reads a few small files per member
/// instead of the stat of every process on the machine — hundreds on a busy
/// one, several times a second. Kernels built without those files get the
/// full scan.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut tree = vec![root];
    let mut next = 0;
    while next < tree.len() {
        match children_of(tree[next]) {
            Children::Listed(children) => {
                for child in children {
                    if !tree.contains(&child) {
                        tree.push(child);
                    }
                }
            }
            // Exited between two reads: it has no children left to list.
            Children::Gone => {}
            Children::Unsupported => return tree_by_scan(root),
        }
        next += 1;
    }
    tree
}

/// The direct children of `pid` (none if it is gone).
pub fn children(pid: u32) -> Vec<u32> {
    match children_of(pid) {
        Children::Listed(children) => children,
        Children::Gone => Vec::new(),
        Children::Unsupported => all_parents()
            .into_iter()
            .filter(|&(child, parent)| parent == pid && child != pid)
            .map(|(child, _)| child)
            .collect(),
    }
}

/// The value of variable `name` in the environment `pid` was started with
/// (`/proc/PID/environ`); `None` if it has none, is gone, or is not ours to read.
pub fn environ_var(pid: u32, name: &str) -> Option<String> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|&b| b == 0).find_map(|entry| {
        let value = entry.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
        Some(String::from_utf8_lossy(value).into_owned())
    })
}

enum Children {
    Listed(Vec<u32>),
    Gone,
    Unsupported,
}

/// The direct children of `pid`, from `/proc/PID/task/TID/children`.
fn children_of(pid: u32) -> Children {
    let Ok(threads) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Children::Gone;
    };
    let mut children = Vec::new();
    for thread in threads.flatten() {
        let path = thread.path().join("children");
        match fs::read_to_string(&path) {
            Ok(text) => children.extend(
                text.split_whitespace()
                    .filter_map(|n| n.parse::<u32>().ok()),
            ),
            // The thread ended after the listing; its siblings still count.
            Err(_) if thread.path().exists() => return Children::Unsupported,
            Err(_) => {}
        }
    }
    Children::Listed(children)
}

/// The tree from one pass over every process's parent.
fn tree_by_scan(root: u32) -> Vec<u32> {
    let parents = all_parents();
    let mut tree = vec![root];
    let mut next = 0;
    while next < tree.len() {
        let parent = tree[next];
        tree.extend(
            parents
                .iter()
                .filter(|(pid, ppid)| *ppid == parent && *pid != parent)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    tree
}

/// Tests that measure this process's own RSS take this lock, so a test that
/// allocates in parallel does not move their figures.
#[cfg(test)]
pub static OWN_RSS_TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pss_in_bytes() {
        let text =
            "7f-7f ---p 00000000 00:00 0 [rollup]\nRss: 1708 kB\nPss: 347 kB\nPss_Dirty: 112 kB\n";
        assert_eq!(parse_pss(text), Some(347 * 1024));
        assert_eq!(parse_pss("Rss: 5 kB\n"), None);
        assert!(read_pss_bytes(std::process::id()).is_some_and(|pss| pss > 0));
    }

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let line = "4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 50 0 0 20 0 7 0 12345 1000000 300 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.ppid, 17);
        assert_eq!((stat.state, stat.pgrp), ('S', 4242));
        assert_eq!(stat.name, "a (weird) name");
        assert_eq!(stat.cpu_ticks, 300);
        assert_eq!(stat.threads, 7);
        // flags 4194560 = 0x400100: PF_EXITING (0x4) clear; set, it is exiting.
        assert!(!stat.exiting);
        let exiting = line.replace(" 4194560 ", " 4194564 ");
        assert!(parse_stat(&exiting).unwrap().exiting);
    }

    #[test]
    fn reads_this_process_and_agrees_with_status() {
        let _alone = OWN_RSS_TEST_LOCK.lock();
        let me = std::process::id();
        let usage = read_usage(me).unwrap();
        assert!(usage.rss_bytes > 0 && usage.fds > 0 && usage.threads > 0);
        let status = fs::read_to_string(format!("/proc/{me}/status")).unwrap();
        let vm_rss_kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap();
        let ours_kb = usage.rss_bytes / 1024;
        // Read a moment apart; the test harness allocates in between.
        assert!(
            ours_kb.abs_diff(vm_rss_kb) < 4096,
            "{ours_kb} vs {vm_rss_kb}"
        );
    }

    #[test]
    fn finds_children_in_the_tree() {
        // A child and a grandchild, from a thread other than the main one.
        let mut child = std::thread::spawn(|| {
            std::process::Command::new("sh")
                .args(["-c", "sleep 300 & wait"])
                .spawn()
                .unwrap()
        })
        .join()
        .unwrap();
        let me = std::process::id();
        // Generous: a busy machine may take seconds to run the shell (the
        // grandchild sleeps far longer and is killed below).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        // Tests run in parallel in this process: other tests' children are
        // in its tree too. The grandchild is the one whose parent is ours.
        let child_pid = child.id();
        let grandchild_in = |tree: &[u32]| -> Option<u32> {
            tree.iter()
                .copied()
                .find(|p| read_stat(*p).is_some_and(|stat| stat.ppid == child_pid))
        };
        let mut tree = process_tree(me);
        while grandchild_in(&tree).is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            tree = process_tree(me);
        }
        let scanned = tree_by_scan(me);
        let grandchild = grandchild_in(&tree);
        if let Some(pid) = grandchild {
            // SAFETY: kill takes no pointers.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(tree.contains(&child_pid), "{tree:?}");
        assert!(grandchild.is_some(), "the grandchild is found: {tree:?}");
        // Other tests' children may come and go: compare the sleeping pair.
        for pid in [child_pid, grandchild.unwrap()] {
            assert!(scanned.contains(&pid), "the full scan agrees: {scanned:?}");
        }
    }
}
