//! Session churn: sessions opened one after another, each used for a few
//! calls and then closed or abandoned, while the server's memory is sampled
//! after every one. What a server keeps per session is the slope of its RSS
//! floor over the sessions ended (see `stats::trend`).
//!
//! Over HTTP each session is a new client (its own connections and session
//! id) of the one server under test. Over stdio a session is a server
//! process, so a new one is spawned each time, and "abandoned" means the
//! client vanished: the process is killed instead of seeing its stdin close.

use std::sync::Arc;
use std::time::Instant;

use super::crash::LiveSession;
use super::load::{PhaseRunner, micros};
use super::{EngineError, Monitor, RunOptions};
use crate::protocol::{Outcome, ProtocolChoice, Session, SetupError};
use crate::scenario::SessionEnd;
use crate::stats::{CallEvent, Event};
use crate::transport::Connection;

pub struct Churn<'a> {
    /// The main session: its connection is where new clients come from, and
    /// its revision is the one every churned session speaks.
    pub main: &'a Session,
    /// Runs the calls of each session (its session is swapped per session).
    pub runner: PhaseRunner,
    pub session_open_label: usize,
    pub options: &'a RunOptions,
    pub monitor: Option<&'a Monitor>,
}

impl Churn<'_> {
    pub async fn run(
        &self,
        sessions: u32,
        calls_per_session: u32,
        end: SessionEnd,
    ) -> Result<(), EngineError> {
        let runner = &self.runner;
        let choice = ProtocolChoice::Force(self.main.version());
        for _ in 0..sessions {
            runner.control.wait_unpaused().await;
            if runner.halt.is_set() {
                break;
            }
            let started = Instant::now();
            let opening = async {
                let connection = match self.main.connection().sibling() {
                    Some(sibling) => sibling,
                    None => Connection::open(&self.options.target, self.options.connect).await?,
                };
                Ok::<_, EngineError>(
                    Session::open(connection, choice, self.options.connect.startup_timeout).await,
                )
            };
            let Some(opened) = runner.interrupt.unless(opening).await else {
                break;
            };
            let session = match opened? {
                Ok(session) => Arc::new(session),
                Err(error) => {
                    self.report_open(started, Some(&error));
                    continue;
                }
            };
            self.report_open(started, None);
            let in_session = PhaseRunner {
                live: LiveSession::fixed(session.clone()),
                ..runner.clone()
            };
            for worker in 0..calls_per_session {
                if runner.halt.is_set() {
                    break;
                }
                in_session.call(u64::from(worker), None).await;
            }
            drop(in_session);
            match end {
                SessionEnd::Close => {
                    if session.close(self.options.shutdown_grace).await.forced {
                        let _ = runner.events.send(Event::ForcedStop);
                    }
                }
                // Over HTTP the session id is dropped with the client; over
                // stdio dropping the connection kills the process tree.
                SessionEnd::Abandon => session.connection().abandon_session(),
            }
            drop(session);
            if let Some(monitor) = self.monitor {
                monitor.sample_now();
            }
            let _ = runner.events.send(Event::SessionEnded {
                phase: runner.phase_index,
            });
        }
        Ok(())
    }

    /// Count the opening of a session as a call of its own label, so its
    /// latency and failures show beside the calls made in it.
    fn report_open(&self, started: Instant, failure: Option<&SetupError>) {
        let outcome = failure.map_or(Outcome::Ok, SetupError::outcome);
        let _ = self.runner.events.send(Event::Call(CallEvent {
            phase: self.runner.phase_index,
            label: self.session_open_label,
            outcome,
            latency_us: micros(started.elapsed()),
            send_lag_us: 0,
            mixup: false,
            message: failure.map(|e| format!("opening a session: {e}")),
        }));
    }
}
