//! Custody of every process mcpstorm starts, however far it strays and
//! however mcpstorm itself ends.
//!
//! A server's own tree and process group are stopped by
//! [`ServerProcess`](super::ServerProcess). What they miss is caught here,
//! by three nets, each for what the one before cannot see:
//!
//! 1. **A tag.** Every server is started with `MCPSTORM_OWNER=<owner>/<n>`
//!    in its environment, which everything it forks inherits: its processes
//!    are found by the tag wherever they went.
//! 2. **A subreaper.** mcpstorm is a child subreaper (`PR_SET_CHILD_SUBREAPER`):
//!    a daemon that double-forks into a session of its own is re-parented to
//!    mcpstorm instead of to init, where its server's stop finds it, and its
//!    exit is reaped here.
//! 3. **A watchdog.** A small process in a session of its own (so that no
//!    signal meant for mcpstorm's group reaches it) waits for mcpstorm to
//!    end, however it ends — SIGKILL included — and then stops every process
//!    carrying mcpstorm's tag. Each server also gets `PR_SET_PDEATHSIG`
//!    (SIGTERM) so the kernel tells it at once.

use std::collections::HashSet;
use std::io::Read;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::process::Doomed;
use crate::probe::procfs;

/// The environment variable that tags a server and everything it forks.
pub const OWNER_VAR: &str = "MCPSTORM_OWNER";

/// The hidden subcommand that runs the watchdog.
pub const WATCHDOG_COMMAND: &str = "custody-watchdog";

/// How long processes get between SIGTERM and SIGKILL when mcpstorm sweeps
/// up at its end, or its watchdog after it.
pub const SWEEP_GRACE: Duration = Duration::from_millis(500);

/// This mcpstorm's tag: its pid and start time, so that a later process
/// that is given the same pid is not taken for it.
fn owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos}", std::process::id())
    })
}

/// A fresh tag for the next server this process starts.
pub fn new_server_tag() -> String {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    format!("{}/{}", owner(), SERIAL.fetch_add(1, Ordering::Relaxed) + 1)
}

/// The children tokio waits for (the servers themselves): never reaped here,
/// or tokio would lose their exit status.
static WAITED_FOR: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

pub fn waited_for(pid: u32) {
    if let Ok(mut set) = WAITED_FOR.lock() {
        set.get_or_insert_with(HashSet::new).insert(pid);
    }
}

pub fn no_longer_waited_for(pid: u32) {
    if let Ok(mut set) = WAITED_FOR.lock()
        && let Some(set) = set.as_mut()
    {
        set.remove(&pid);
    }
}

fn is_waited_for(pid: u32) -> bool {
    WAITED_FOR
        .lock()
        .map(|set| set.as_ref().is_some_and(|s| s.contains(&pid)))
        .unwrap_or(true)
}

/// The watchdog's pid, which the final sweep must spare.
static WATCHDOG: AtomicU32 = AtomicU32::new(0);

/// What custody could not be taken: not fatal, but said.
#[derive(Debug, thiserror::Error)]
pub enum CustodyLost {
    #[error(
        "cannot become a child subreaper ({0}): a server's daemon that leaves its session may \
         outlive the run"
    )]
    NotSubreaper(std::io::Error),
    #[error(
        "cannot start the watchdog ({0}): if mcpstorm is killed with SIGKILL, what its servers \
         forked may outlive it"
    )]
    NoWatchdog(std::io::Error),
}

/// Take custody of everything this process will start: become a child
/// subreaper and start the watchdog. Called once, by the commands that start
/// servers. Failing this is not fatal; the error says what is lost.
pub fn take_custody() -> Result<(), CustodyLost> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument and has no memory effects.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(CustodyLost::NotSubreaper(std::io::Error::last_os_error()));
    }
    start_watchdog().map_err(CustodyLost::NoWatchdog)
}

fn start_watchdog() -> std::io::Result<()> {
    static STDIN: OnceLock<std::process::ChildStdin> = OnceLock::new();
    if STDIN.get().is_some() {
        return Ok(());
    }
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([WATCHDOG_COMMAND, owner()])
        .env_remove(OWNER_VAR)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    WATCHDOG.store(child.id(), Ordering::Relaxed);
    // Held open, never written, until this process ends: the watchdog reads
    // end-of-file then. The pipe is close-on-exec, so no server holds it.
    if let Some(stdin) = child.stdin.take() {
        let _ = STDIN.set(stdin);
    }
    Ok(())
}

/// The watchdog: wait for mcpstorm (whose tag is `owner`) to end, then stop
/// whatever carries its tag.
pub fn watchdog_main(owner: &str) -> std::process::ExitCode {
    // SAFETY: setsid and signal(SIG_IGN) take no pointers.
    unsafe {
        // Out of mcpstorm's session and group: a Ctrl-C, a SIGHUP or a
        // `kill -- -PGID` meant for mcpstorm must not end the watch.
        libc::setsid();
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            libc::signal(signal, libc::SIG_IGN);
        }
    }
    let mut stdin = std::io::stdin().lock();
    let mut buffer = [0u8; 64];
    loop {
        match stdin.read(&mut buffer) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let prefix = format!("{owner}/");
    let tagged = tagged_anywhere(&prefix);
    terminate_then_kill_blocking(&tagged, SWEEP_GRACE);
    std::process::ExitCode::SUCCESS
}

/// Every process, anywhere, whose tag starts with `prefix`.
fn tagged_anywhere(prefix: &str) -> Vec<u32> {
    procfs::all_pids()
        .filter(|&pid| procfs::environ_var(pid, OWNER_VAR).is_some_and(|t| t.starts_with(prefix)))
        .collect()
}

/// Processes that left server `tag`'s tree and were re-parented to mcpstorm
/// (the subreaper), with their own trees.
pub fn strays_of(tag: &str) -> Vec<u32> {
    let mut strays = Vec::new();
    for child in procfs::children(std::process::id()) {
        if !is_waited_for(child) && procfs::environ_var(child, OWNER_VAR).as_deref() == Some(tag) {
            strays.extend(procfs::process_tree(child));
        }
    }
    strays
}

/// Collect the exit status of adopted processes that have exited (zombies
/// re-parented to mcpstorm), leaving the servers' own to tokio.
pub fn reap_adopted() {
    for child in procfs::children(std::process::id()) {
        if is_waited_for(child) || procfs::read_stat(child).is_none_or(|s| s.state != 'Z') {
            continue;
        }
        let mut status = 0;
        // SAFETY: waitpid on one pid with a valid pointer to a local.
        unsafe { libc::waitpid(child as libc::pid_t, &mut status, libc::WNOHANG) };
    }
}

/// Everything mcpstorm started that is still running once the run is done:
/// what carries its tag, and any descendant but the watchdog.
fn leftovers() -> Vec<u32> {
    let me = std::process::id();
    let watchdog = WATCHDOG.load(Ordering::Relaxed);
    let mut pids = tagged_anywhere(&format!("{}/", owner()));
    for pid in procfs::process_tree(me) {
        if pid != me && pid != watchdog && !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    pids.retain(|&pid| procfs::is_alive(pid));
    pids
}

/// The last sweep of a run: stop whatever is left, SIGTERM then SIGKILL after
/// `grace`. Returns how many processes were left.
pub async fn sweep(grace: Duration) -> usize {
    let left = leftovers();
    if !left.is_empty() {
        let doomed = Doomed {
            pids: &left,
            group: None,
        };
        doomed.terminate_then_kill(grace).await;
    }
    reap_adopted();
    left.len()
}

/// At once, with no grace: SIGKILL everything mcpstorm started (a second
/// Ctrl-C).
pub fn kill_all_now() {
    super::process::signal_all(&leftovers(), libc::SIGKILL);
}

fn terminate_then_kill_blocking(pids: &[u32], grace: Duration) {
    if !pids.is_empty() {
        Doomed { pids, group: None }.terminate_then_kill_blocking(grace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_tags_are_unique_and_name_their_owner() {
        let (a, b) = (new_server_tag(), new_server_tag());
        assert_ne!(a, b);
        let prefix = format!("{}-", std::process::id());
        assert!(a.starts_with(&prefix), "{a}");
    }

    #[test]
    fn a_tagged_process_is_found_by_its_tag_and_no_other() {
        let tag = new_server_tag();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env(OWNER_VAR, &tag)
            .spawn()
            .unwrap();
        let pid = child.id();
        // A vfork parent resumes while exec is still setting up the child's
        // memory, and /proc/PID/environ reads empty for that moment (longer
        // on a busy machine): look until it is there.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut found = tagged_anywhere(&tag);
        while found.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            found = tagged_anywhere(&tag);
        }
        let other = tagged_anywhere(&format!("{tag}0"));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, vec![pid]);
        assert!(other.is_empty(), "{other:?}");
    }
}
