//! The crash watch, and the live session it may replace.
//!
//! A server that exits mid-run is reported as a crash. What follows is the
//! scenario's `on_crash`: `abort` halts the load; `restart` starts a fresh
//! server (same command, same protocol revision), swaps it in as the live
//! session, points the probe at its process and lets the load go on. Calls in
//! flight at the crash fail as transport errors; workers then wait for the
//! new session rather than burn their budget on a dead one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::RunOptions;
use super::control::CancelToken;
use super::monitor::Monitor;
use crate::client::catalog;
use crate::client::{ProtocolChoice, Session};
use crate::scenario::OnCrash;
use crate::stats::Event;
use crate::transport::Connection;

/// The session calls go to now. Cheap to clone; reading it is a lock-free
/// borrow on the load path.
#[derive(Clone)]
pub struct LiveSession {
    current: Arc<watch::Sender<Arc<Session>>>,
    /// Whether a crash is followed by a fresh session (on_crash = "restart").
    restarts: bool,
}

impl LiveSession {
    pub fn new(session: Arc<Session>, restarts: bool) -> LiveSession {
        LiveSession {
            current: Arc::new(watch::Sender::new(session)),
            restarts,
        }
    }

    /// A session that is never replaced (a churned session's own).
    pub fn fixed(session: Arc<Session>) -> LiveSession {
        LiveSession::new(session, false)
    }

    pub fn current(&self) -> Arc<Session> {
        self.current.borrow().clone()
    }

    pub fn restarts(&self) -> bool {
        self.restarts
    }

    fn replace(&self, session: Arc<Session>) {
        self.current.send_replace(session);
    }

    /// Wait until `dead` has been replaced, or the load is halted (the
    /// restart failed, or the user stopped the run).
    pub async fn replaced(&self, dead: &Arc<Session>, halt: &CancelToken) {
        let mut updates = self.current.subscribe();
        loop {
            if !Arc::ptr_eq(&updates.borrow_and_update(), dead) {
                return;
            }
            tokio::select! {
                changed = updates.changed() => if changed.is_err() { return },
                _ = halt.wait() => return,
            }
        }
    }
}

/// A server that crashes at every start would be restarted for ever.
const MAX_RESTARTS: u32 = 100;

/// Watch the live session; report each crash and do what `on_crash` says.
/// `halt` stops the load; `finished` (the run's end) stops the watch.
pub fn watch(
    live: LiveSession,
    on_crash: OnCrash,
    options: RunOptions,
    timeout: Duration,
    events: mpsc::UnboundedSender<Event>,
    (halt, finished): (CancelToken, CancelToken),
    monitor: Option<Arc<Monitor>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut restarts = 0;
        loop {
            let session = live.current();
            let connection = session.connection();
            // The output tail runs on across restarts: quote this server's own.
            let lines_before = connection.output().total_lines();
            // The first sign is its stdout closing; the exit status follows.
            tokio::select! {
                _ = connection.wait_closed() => {}
                _ = finished.wait() => {
                    // A crash in the last moment still counts.
                    if !connection.is_closed() {
                        return;
                    }
                }
            }
            if on_crash == OnCrash::Abort {
                halt.set();
            }
            report_crash(connection, lines_before, &events).await;
            if finished.is_set() {
                return;
            }
            if on_crash == OnCrash::Abort {
                let _ = events.send(Event::Note(
                    "on_crash = \"abort\": the remaining calls and phases were not run".into(),
                ));
                return;
            }
            restarts += 1;
            let fresh = if restarts > MAX_RESTARTS {
                Err(format!("it crashed {MAX_RESTARTS} times"))
            } else {
                // A stop meanwhile ends the attempt (and kills what it started).
                let starting = start_again(&session, &options, timeout);
                halt.unless(starting)
                    .await
                    .unwrap_or_else(|| Err("the run was stopped meanwhile".into()))
            };
            match fresh {
                Ok(fresh) => {
                    let pid = fresh.connection().pid();
                    let _ = events.send(Event::Restarted {
                        at: Instant::now(),
                        pid,
                    });
                    if let (Some(monitor), Some(pid)) = (&monitor, pid) {
                        monitor.retarget(pid);
                    }
                    live.replace(Arc::new(fresh));
                }
                Err(why) => {
                    halt.set();
                    let _ = events.send(Event::Note(format!(
                        "on_crash = \"restart\": the server could not be started again ({why}); \
                         the remaining calls and phases were not run"
                    )));
                    return;
                }
            }
        }
    })
}

async fn report_crash(
    connection: &Connection,
    lines_before: u64,
    events: &mpsc::UnboundedSender<Event>,
) {
    let exit = match connection.process() {
        Some(process) => process.wait_exit(Duration::from_secs(1)).await.map_or(
            "its stdout closed, the process is still running".to_string(),
            |i| i.to_string(),
        ),
        None => "the process is gone".to_string(),
    };
    // Give the stderr drain a moment to catch the server's last words.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let its_own = connection.output().total_lines() - lines_before;
    let last_words = connection.output_tail(its_own.min(3) as usize).join(" | ");
    let _ = events.send(Event::Crash {
        at: Instant::now(),
        description: format!("server exited mid-run ({exit}); stderr: {last_words}"),
    });
}

/// A fresh server in the crashed one's place, speaking the same revision,
/// with the wire counters carried on.
async fn start_again(
    crashed: &Session,
    options: &RunOptions,
    timeout: Duration,
) -> Result<Session, String> {
    let connection = crashed
        .connection()
        .reopen(&options.target, options.connect)
        .await
        .map_err(|e| e.to_string())?;
    let same_revision = ProtocolChoice::Force(crashed.version());
    let session = Session::open(connection, same_revision, options.connect.startup_timeout)
        .await
        .map_err(|e| e.to_string())?;
    // Notes were given at the first start; the headers are what matters now.
    let _ = catalog::learn_param_headers(&session, timeout).await;
    Ok(session)
}
