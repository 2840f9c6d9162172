//! Cold start: a fresh server for every iteration, timed as a whole and by
//! stage — spawn, initialize, first call, exit.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{LoadModel, ModelKind, Segment};
use crate::client::{ProtocolChoice, Session};
use crate::engine::preflight::{self, Prepared};
use crate::engine::{EngineError, PhaseContext, RunOptions, micros, send};
use crate::protocol::outcome::Classified;
use crate::protocol::{Outcome, ProtocolVersion};
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;
use crate::scenario::template::CallContext;
use crate::scenario::{CallMix, Phase};
use crate::stats::{ColdStartEvent, Event};
use crate::transport::{ConnectOptions, Connection};

pub const MODEL: ModelKind = ModelKind {
    kind: "coldstart",
    keys: &["iterations"],
    parse,
};

/// The label a whole cold-start iteration is counted under.
pub const LABEL: &str = "coldstart";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColdStarts {
    pub iterations: u32,
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let iterations = keys.required_whole("iterations", 1..=100_000)? as u32;
    Ok(Arc::new(ColdStarts { iterations }))
}

impl fmt::Display for ColdStarts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cold start × {}", self.iterations)
    }
}

impl LoadModel for ColdStarts {
    fn segment(&self, _segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        Err("a cold start is one server process started and timed by the machine that starts it: there is no share of it to run elsewhere".into())
    }

    fn planned_calls(&self) -> Option<u64> {
        Some(u64::from(self.iterations))
    }

    /// Each iteration starts a server of its own.
    fn uses_the_session(&self) -> bool {
        false
    }

    fn own_label(&self) -> Option<&'static str> {
        Some(LABEL)
    }

    fn check_mix(&self, mix: &CallMix) -> Result<(), &'static str> {
        if mix.calls.is_empty() {
            return Err(
                "a cold-start phase needs a [[call]] naming its one call (auto mixes are for phases on a running server)",
            );
        }
        Ok(())
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        run(phase, self.iterations).boxed()
    }
}

async fn run(context: PhaseContext<'_>, iterations: u32) -> Result<(), EngineError> {
    let PhaseContext {
        index: phase_index,
        phase,
        options,
        timeout,
        events,
        halt,
        control,
        ..
    } = context;
    // Without a session, no preflight has checked this phase.
    let check_with = (!context.checked()).then_some(context.labels);
    let label = context.label(LABEL);
    if !options.target.starts_server() {
        return Err(EngineError::ColdStartNeedsCommand);
    }
    // One start that is not timed learns the revision (the probe's wait is
    // mcpstorm's, not the server's cold start) and, when no session of the
    // scenario has done it, checks the phase's tools against the server's.
    let learn = options.protocol == ProtocolChoice::Auto;
    let mut checked = None;
    let choice = if learn || check_with.is_some() {
        let first = first_start(options, phase, check_with, timeout);
        let Some(first) = halt.unless(first).await else {
            return Ok(());
        };
        let (version, prepared) = first?;
        if learn {
            let _ = events.send(Event::Note(format!(
                "cold start: the server speaks {version}, learnt from one start that was not \
                 timed; the timed starts speak it at once"
            )));
        }
        if let Some(prepared) = prepared {
            if !prepared.added_labels.is_empty() {
                let _ = events.send(Event::LabelsAdded(prepared.added_labels));
            }
            for note in prepared.notes {
                let _ = events.send(Event::Note(note));
            }
            checked = prepared.phases.into_iter().next();
        }
        ProtocolChoice::Force(version)
    } else {
        options.protocol
    };
    let cold_start = ColdStart {
        phase_index,
        phase: checked.as_ref().unwrap_or(phase),
        label,
        options,
        timeout,
        choice,
    };
    for iteration in 0..iterations as u64 {
        control.wait_unpaused().await;
        if halt.is_set() {
            break;
        }
        // A stop cuts an iteration short: dropping its connection kills the
        // server it started.
        let Some(event) = halt.unless(cold_start.time(iteration)).await else {
            break;
        };
        let (event, forced) = event?;
        if forced {
            let _ = events.send(Event::ForcedStop);
        }
        let _ = events.send(Event::ColdStart(event));
    }
    Ok(())
}

/// Start the server once, untimed: the revision it speaks and, given the
/// scenario's labels, the phase checked against its tools.
async fn first_start(
    options: &RunOptions,
    phase: &Phase,
    check_with: Option<&[String]>,
    timeout: Duration,
) -> Result<(ProtocolVersion, Option<Prepared>), EngineError> {
    let connection = Connection::open(&options.target, options.connect).await?;
    let session = Session::open(
        connection,
        options.protocol,
        options.connect.startup_timeout,
    )
    .await?;
    let prepared = match check_with {
        Some(labels) => {
            Some(preflight::prepare(&session, std::slice::from_ref(phase), labels, timeout).await)
        }
        None => None,
    };
    session.close(options.shutdown_grace).await;
    Ok((session.version(), prepared.transpose()?))
}

struct ColdStart<'a> {
    phase_index: usize,
    phase: &'a Phase,
    label: usize,
    options: &'a RunOptions,
    timeout: Duration,
    /// The revision each start speaks.
    choice: ProtocolChoice,
}

impl ColdStart<'_> {
    /// Start a fresh server, open a session, make one call, stop it.
    /// The start's timings, and whether it had to be killed at the end.
    async fn time(&self, iteration: u64) -> Result<(ColdStartEvent, bool), EngineError> {
        let (options, timeout) = (self.options, self.timeout);
        let started = Instant::now();
        // The listener check scans /proc: mcpstorm's work, which a timed start
        // must not include (the first, untimed start made it; the port is
        // still checked free before each).
        let connect = ConnectOptions {
            check_listener: false,
            ..options.connect
        };
        let connection = Connection::open(&options.target, connect).await?;
        let spawned = Instant::now();
        let mut event = ColdStartEvent {
            phase: self.phase_index,
            label: self.label,
            spawn_us: micros(spawned - started),
            initialize_us: 0,
            call_us: 0,
            exit_us: 0,
            total_us: 0,
            outcome: Outcome::Ok,
            message: None,
        };
        let session =
            match Session::open(connection, self.choice, options.connect.startup_timeout).await {
                Ok(session) => session,
                Err(error) => {
                    event.outcome = error.outcome();
                    event.message = Some(error.to_string());
                    event.total_us = micros(started.elapsed());
                    return Ok((event, false));
                }
            };
        let initialized = Instant::now();
        event.initialize_us = micros(initialized - spawned);
        let template = self.phase.mix.pick();
        let ctx = CallContext {
            seq: iteration + 1,
            worker: 0,
        };
        let (_, reply) = send(&session, template, ctx, timeout).await;
        let answered = match &reply {
            Ok(reply) => reply.received_at,
            Err(_) => Instant::now(),
        };
        let Classified { outcome, message } =
            crate::client::classify(&reply, template.is_tool_call());
        event.call_us = micros(answered.saturating_duration_since(initialized));
        event.total_us = micros(answered.saturating_duration_since(started));
        event.outcome = outcome;
        event.message = message;
        let forced = session.close(options.shutdown_grace).await.forced;
        event.exit_us = micros(answered.elapsed());
        Ok((event, forced))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse_error, parsed};

    #[test]
    fn plans_one_call_per_start_and_needs_no_session() {
        let model = parsed(r#"kind = "coldstart", iterations = 12"#);
        assert_eq!(model.planned_calls(), Some(12));
        assert!(!model.uses_the_session());
        assert_eq!(model.own_label(), Some(super::LABEL));
        assert_eq!(model.to_string(), "cold start × 12");
        let e = parse_error(r#"kind = "coldstart""#);
        assert!(e.contains("needs `iterations`"), "{e}");
    }
}
