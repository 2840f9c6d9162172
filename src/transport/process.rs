//! The server under test as an operating-system process: spawn it in a process
//! group of its own, watch for its exit, and stop its whole tree on request.

use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::watch;

use super::custody;
use crate::probe::procfs;

/// The command that starts a server, as the user gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerCommand {
    pub program: String,
    pub args: Vec<String>,
    /// Extra environment for the server. Values are secrets until proven otherwise:
    /// `Display` shows only the names.
    pub env: Vec<(String, String)>,
    /// How the program is shown, when not as its path: the built-in target is
    /// `mcpstorm`, not wherever this binary happens to be installed.
    pub shown_as: Option<&'static str>,
}

impl ServerCommand {
    pub fn new(program: impl Into<String>, args: Vec<String>) -> Self {
        ServerCommand {
            program: program.into(),
            args,
            env: Vec::new(),
            shown_as: None,
        }
    }

    /// This very binary with `args` (the built-in target), shown as `mcpstorm`.
    pub fn this_binary(args: Vec<String>) -> Result<Self, SpawnError> {
        let me = std::env::current_exe().map_err(SpawnError::OwnBinary)?;
        Ok(ServerCommand {
            shown_as: Some("mcpstorm"),
            ..ServerCommand::new(me.to_string_lossy().into_owned(), args)
        })
    }
}

impl fmt::Display for ServerCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, _) in &self.env {
            write!(f, "{name}=<redacted> ")?;
        }
        f.write_str(self.shown_as.unwrap_or(&self.program))?;
        for arg in &self.args {
            if arg.contains(char::is_whitespace) || arg.is_empty() {
                write!(f, " {arg:?}")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("could not start server command `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("cannot find the mcpstorm binary to serve the built-in target: {0}")]
    OwnBinary(std::io::Error),
}

/// How the process ended (both `None`: the status could not be read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "killed by signal {signal}"),
            (None, None) => f.write_str("unknown exit status"),
        }
    }
}

/// How a stop ended: the exit, and the last signal mcpstorm had to send for
/// it (`None`: the server exited by itself — when asked, or before, as a
/// crashed one did, whatever signal killed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    pub exit: ExitInfo,
    pub sent: Option<libc::c_int>,
}

/// The pipes of a freshly spawned server.
pub struct Pipes {
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
}

/// A running server process. Dropping it kills the direct child (tokio's
/// `kill_on_drop`); [`ServerProcess::stop`] stops the whole tree gracefully.
pub struct ServerProcess {
    pid: u32,
    /// Its custody tag, which everything it forks inherits.
    tag: String,
    exit: watch::Receiver<Option<ExitInfo>>,
}

impl ServerProcess {
    pub fn spawn(command: &ServerCommand) -> Result<(ServerProcess, Pipes), SpawnError> {
        let tag = custody::new_server_tag();
        let mut spawning = Command::new(&command.program);
        spawning
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .env(custody::OWNER_VAR, &tag);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe calls (prctl, getppid, getrlimit, setrlimit).
        unsafe {
            spawning.pre_exec(move || {
                // If mcpstorm dies, even by SIGKILL, the server hears of it.
                // (The signal comes when the *thread* that forked ends: the
                // runtime's worker threads live as long as mcpstorm.)
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // mcpstorm died before the line above: do not start orphaned.
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("mcpstorm exited"));
                }
                // The server gets the file limit it would have had, not mcpstorm's raised one.
                super::fd_limit::restore_in_child();
                Ok(())
            });
        }
        let mut child = spawning
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group: a Ctrl-C at the terminal reaches mcpstorm only, which
            // then stops the server in order, and the group can be signalled whole.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| SpawnError::Spawn {
                command: command.to_string(),
                source,
            })?;
        let pid = child.id().unwrap_or(0);
        custody::waited_for(pid);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            unreachable!("all three pipes were requested");
        };
        let (exit_tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let info = match child.wait().await {
                Ok(status) => {
                    use std::os::unix::process::ExitStatusExt;
                    ExitInfo {
                        code: status.code(),
                        signal: status.signal(),
                    }
                }
                Err(_) => ExitInfo::default(),
            };
            custody::no_longer_waited_for(pid);
            let _ = exit_tx.send(Some(info));
        });
        Ok((
            ServerProcess { pid, tag, exit },
            Pipes {
                stdin,
                stdout,
                stderr,
            },
        ))
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn exited(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }

    /// The exit status, once the process has exited; `None` if it is still
    /// running after `within`.
    pub async fn wait_exit(&self, within: Duration) -> Option<ExitInfo> {
        tokio::time::timeout(within, self.exited_at_last())
            .await
            .ok()
    }

    /// Resolves when the process exits; owns what it needs, to be moved
    /// into a task of its own.
    pub fn on_exit(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut exit = self.exit.clone();
        async move {
            if exit.wait_for(Option::is_some).await.is_err() {
                // The status can no longer be read: it is not an exit.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves when the process exits, with its status.
    pub async fn exited_at_last(&self) -> ExitInfo {
        let mut exit = self.exit.clone();
        match exit.wait_for(Option::is_some).await {
            Ok(info) => info.unwrap_or_default(),
            // The waiter task is gone: the status can no longer be read.
            Err(_) => ExitInfo::default(),
        }
    }

    /// Stop the server: the caller has already closed its stdin (the polite request
    /// MCP defines for stdio); wait `grace`, then SIGTERM the whole tree, wait
    /// again, then SIGKILL what is left. Descendants are stopped even when the
    /// direct child exits by itself, so no orphan outlives the run.
    pub async fn stop(&self, grace: Duration) -> Stopped {
        self.stop_tree(Some(grace), grace).await
    }

    /// Stop a server that does not exit when its stdin closes (an HTTP
    /// server): SIGTERM the tree at once, wait `grace`, then SIGKILL.
    pub async fn terminate(&self, grace: Duration) -> Stopped {
        self.stop_tree(None, grace).await
    }

    async fn stop_tree(&self, polite_wait: Option<Duration>, grace: Duration) -> Stopped {
        // Listed before anything dies: once the root exits its children are
        // re-parented and can no longer be found from it — but they stay in
        // its process group, which `signal_all` signals with the root, and
        // `end_the_rest` once the root is gone.
        let mut tree = self.tree_and_strays();
        if let Some(wait) = polite_wait {
            let polite = self.wait_exit(wait).await;
            tree.extend(self.tree_and_strays().into_iter().skip(1));
            if let Some(exit) = polite {
                self.end_the_rest(&tree[1..], grace).await;
                return Stopped { exit, sent: None };
            }
        }
        signal_all(&tree, libc::SIGTERM);
        if let Some(exit) = self.wait_exit(grace).await {
            self.end_the_rest(&tree[1..], grace).await;
            return Stopped {
                exit,
                sent: Some(libc::SIGTERM),
            };
        }
        signal_all(&tree, libc::SIGKILL);
        let exit = self.wait_exit(grace).await.unwrap_or(ExitInfo {
            code: None,
            signal: Some(libc::SIGKILL),
        });
        custody::reap_adopted();
        Stopped {
            exit,
            sent: Some(libc::SIGKILL),
        }
    }

    /// The server (first), its descendants, and the processes that escaped
    /// its tree (re-parented to mcpstorm, carrying its tag).
    fn tree_and_strays(&self) -> Vec<u32> {
        let mut all = procfs::process_tree(self.pid);
        for stray in custody::strays_of(&self.tag) {
            if !all.contains(&stray) {
                all.push(stray);
            }
        }
        all
    }

    /// The root is gone: its descendants (`rest`, and whatever is left in its
    /// process group, found or not) get SIGTERM, `grace` to exit, then
    /// SIGKILL — a child that ignores SIGTERM is not left running.
    async fn end_the_rest(&self, rest: &[u32], grace: Duration) {
        // The server was spawned as a group of its own, which holds its
        // descendants even after it exited.
        Doomed {
            pids: rest,
            group: Some(self.pid),
        }
        .terminate_then_kill(grace)
        .await;
        custody::reap_adopted();
    }
}

/// Processes to stop: SIGTERM, up to a grace period for them to go, then
/// SIGKILL for any left.
pub(super) struct Doomed<'a> {
    pub pids: &'a [u32],
    /// A process group to signal too (its members, found or not).
    pub group: Option<u32>,
}

/// How often the processes being stopped are looked at.
const STOP_POLL: Duration = Duration::from_millis(20);

impl Doomed<'_> {
    fn signal(&self, signal: libc::c_int) {
        signal_all(self.pids, signal);
        if let Some(group) = self.group.filter(|&g| g > 1) {
            // SAFETY: kill(2) with a negative pid and a valid signal has no memory effects.
            unsafe { libc::kill(-(group as libc::pid_t), signal) };
        }
    }

    /// Whether any is left alive (zombies do not count: they have exited,
    /// and their parent may never reap them).
    fn alive(&self) -> bool {
        self.pids.iter().any(|&pid| procfs::is_alive(pid))
            || self
                .group
                .is_some_and(|g| g > 1 && !procfs::live_group_members(g).is_empty())
    }

    pub async fn terminate_then_kill(&self, grace: Duration) {
        self.signal(libc::SIGTERM);
        let deadline = tokio::time::Instant::now() + grace;
        while self.alive() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(STOP_POLL).await;
        }
        self.signal(libc::SIGKILL);
    }

    /// The same, on a thread with no runtime (the custody watchdog).
    pub fn terminate_then_kill_blocking(&self, grace: Duration) {
        self.signal(libc::SIGTERM);
        let deadline = std::time::Instant::now() + grace;
        while self.alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(STOP_POLL);
        }
        self.signal(libc::SIGKILL);
    }
}

/// The safety net: a server whose owner is dropped without stopping it (an
/// early return, a panic) is killed with its tree, never left running.
impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.exited().is_none() && crate::probe::procfs::is_alive(self.pid) {
            signal_all(&procfs::process_tree(self.pid), libc::SIGKILL);
        }
    }
}

/// Signal each pid and, for good measure, the process group each may lead.
pub(super) fn signal_all(pids: &[u32], signal: libc::c_int) {
    for &pid in pids {
        if pid == 0 {
            continue;
        }
        // SAFETY: kill(2) with a positive pid and a valid signal has no memory effects.
        unsafe {
            libc::kill(pid as libc::pid_t, signal);
            libc::kill(-(pid as libc::pid_t), signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_redacts_environment_values() {
        let mut command = ServerCommand::new("node", vec!["server.js".into(), "a b".into()]);
        command.env.push(("API_KEY".into(), "sk-secret".into()));
        let shown = command.to_string();
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert_eq!(shown, "API_KEY=<redacted> node server.js \"a b\"");
    }

    #[test]
    fn the_built_in_target_is_shown_without_this_machine_s_path() {
        let command = ServerCommand::this_binary(vec!["serve".into()]).unwrap();
        assert_eq!(command.to_string(), "mcpstorm serve");
        assert!(command.program.starts_with('/'), "{}", command.program);
    }

    #[tokio::test]
    async fn stop_kills_a_server_that_ignores_stdin_and_its_children() {
        let command = ServerCommand::new(
            "sh",
            vec!["-c".into(), "trap '' TERM; sleep 30 & sleep 30".into()],
        );
        let (process, pipes) = ServerProcess::spawn(&command).unwrap();
        drop(pipes);
        // A busy machine may take a while to run the shell: wait for its
        // children rather than for a fixed time.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut tree = procfs::process_tree(process.pid());
        while tree.len() < 3 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            tree = procfs::process_tree(process.pid());
        }
        assert!(tree.len() >= 2, "{tree:?}");
        let stopped = process.stop(Duration::from_millis(200)).await;
        assert_eq!(stopped.exit.signal, Some(libc::SIGKILL));
        assert_eq!(stopped.sent, Some(libc::SIGKILL));
        // SIGKILL is final, but a process exits only once it gets a core.
        for pid in tree {
            while procfs::is_alive(pid) && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(!procfs::is_alive(pid), "pid {pid} survived");
        }
    }

    #[test]
    fn a_missing_program_is_named_in_the_error() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _guard = rt.enter();
        let err = ServerProcess::spawn(&ServerCommand::new("no-such-server-xyz", vec![]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("no-such-server-xyz"), "{err}");
    }
}
