//! Session churn: sessions opened one after another, each used for a few
//! calls and then closed or abandoned, while the server's memory is sampled
//! after every one. What a server keeps per session is the slope of its RSS
//! floor over the sessions ended (see `stats::trend`).
//!
//! Over HTTP each session is a new client (its own connections and session
//! id) of the one server under test. Over stdio a session is a server
//! process, so a new one is spawned each time, and "abandoned" means the
//! client vanished: the process is killed instead of seeing its stdin close.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::segment::{Segment, or_nothing};
use super::session_open::{LABEL, open_session, refusal, report_open};
use super::{LoadModel, ModelKind};
use crate::client::Session;
use crate::engine::crash::LiveSession;
use crate::engine::monitor::Monitor;
use crate::engine::{EngineError, PhaseContext, PhaseRunner, RunOptions};
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::{LoadKeys, MAX_CALLS};
use crate::stats::Event;

pub const MODEL: ModelKind = ModelKind {
    kind: "churn",
    keys: &["sessions", "calls_per_session", "end"],
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionChurn {
    pub sessions: u32,
    pub calls_per_session: u32,
    pub end: SessionEnd,
}

/// How a churned session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Properly: `DELETE` over HTTP; closing stdin over stdio.
    Close,
    /// Dropped without a word, as a client that crashed or lost its network.
    Abandon,
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionEnd::Close => "closed",
            SessionEnd::Abandon => "abandoned",
        })
    }
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let sessions = keys.required_whole("sessions", 1..=MAX_CALLS)? as u32;
    let calls_per_session = keys.whole("calls_per_session", 1..=MAX_CALLS)?.unwrap_or(1) as u32;
    let end = match keys.word("end", &["close", "abandon"])? {
        Some("abandon") => SessionEnd::Abandon,
        _ => SessionEnd::Close,
    };
    Ok(Arc::new(SessionChurn {
        sessions,
        calls_per_session,
        end,
    }))
}

impl fmt::Display for SessionChurn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sessions × {} calls, {}",
            self.sessions, self.calls_per_session, self.end
        )
    }
}

impl LoadModel for SessionChurn {
    fn segment(&self, segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        let sessions = segment.share(u64::from(self.sessions));
        Ok(or_nothing(sessions, self, segment, || {
            Arc::new(SessionChurn {
                sessions: sessions as u32,
                ..*self
            })
        }))
    }

    /// Each session's opening counts as a call of its own.
    fn planned_calls(&self) -> Option<u64> {
        Some(u64::from(self.sessions) * (u64::from(self.calls_per_session) + 1))
    }

    fn own_label(&self) -> Option<&'static str> {
        Some(LABEL)
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        async move {
            let runner = phase.runner()?;
            let main = runner.live.current();
            Churn {
                main: &main,
                // Churn samples after every session instead of as calls go.
                runner,
                session_open_label: phase.label(LABEL),
                options: phase.options,
                monitor: phase.monitor,
            }
            .run(self.sessions, self.calls_per_session, self.end)
            .await
        }
        .boxed()
    }
}

struct Churn<'a> {
    /// The main session: its connection is where new clients come from, and
    /// its revision is the one every churned session speaks.
    main: &'a Session,
    /// Runs the calls of each session (its session is swapped per session).
    runner: PhaseRunner,
    session_open_label: usize,
    options: &'a RunOptions,
    monitor: Option<&'a Monitor>,
}

impl Churn<'_> {
    async fn run(
        &self,
        sessions: u32,
        calls_per_session: u32,
        end: SessionEnd,
    ) -> Result<(), EngineError> {
        let runner = &self.runner;
        for _ in 0..sessions {
            runner.control.wait_unpaused().await;
            if runner.halt.is_set() {
                break;
            }
            let started = Instant::now();
            let opening = open_session(self.main, self.options);
            let Some(opened) = runner.interrupt.unless(opening).await else {
                break;
            };
            let session = match opened? {
                Ok(session) => Arc::new(session),
                Err(error) => {
                    report_open(
                        runner,
                        self.session_open_label,
                        started,
                        Some(refusal(&error)),
                    );
                    continue;
                }
            };
            report_open(runner, self.session_open_label, started, None);
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse_error, parsed};

    #[test]
    fn plans_each_opening_and_its_calls() {
        let model =
            parsed(r#"kind = "churn", sessions = 30, calls_per_session = 4, end = "abandon""#);
        assert_eq!(model.planned_calls(), Some(150));
        assert_eq!(model.to_string(), "30 sessions × 4 calls, abandoned");
        assert_eq!(model.own_label(), Some(super::LABEL));
        let closed = parsed(r#"kind = "churn", sessions = 2"#);
        assert_eq!(closed.planned_calls(), Some(4));
        assert_eq!(closed.to_string(), "2 sessions × 1 calls, closed");
        let e = parse_error(r#"kind = "churn", sessions = 2, end = "slam""#);
        assert!(
            e.contains(r#"end must be one of "close", "abandon", got "slam""#),
            "{e}"
        );
    }
}
