//! Opening a session of its own beside the run's (session churn, sessions
//! as users), and counting the opening as a call of its own label.

use std::time::Instant;

use crate::client::{ProtocolChoice, Session, SetupError};
use crate::engine::{EngineError, PhaseRunner, RunOptions, micros};
use crate::protocol::Outcome;
use crate::stats::{CallEvent, Event};
use crate::transport::Connection;

/// The label the opening of a session is counted under.
pub const LABEL: &str = "session/open";

/// A refused opening, as [`report_open`] takes it.
pub(super) fn refusal(error: &SetupError) -> (Outcome, String) {
    (error.outcome(), error.to_string())
}

/// A new client of the server `main` talks to, speaking `main`'s revision:
/// over HTTP a client with its own connections and session id; over stdio
/// a server process of its own. The outer error: the transport could not
/// be set up at all; the inner: the server refused the session.
pub(super) async fn open_session(
    main: &Session,
    options: &RunOptions,
) -> Result<Result<Session, SetupError>, EngineError> {
    let connection = match main.connection().sibling() {
        Some(sibling) => sibling,
        None => Connection::open(&options.target, options.connect).await?,
    };
    let choice = ProtocolChoice::Force(main.version());
    Ok(Session::open(connection, choice, options.connect.startup_timeout).await)
}

/// Count the opening of a session as a call of label `label`, so its
/// latency and failures show beside the calls made in it; what it counted.
/// `failure`: how it failed, and why in words.
pub(super) fn report_open(
    runner: &PhaseRunner,
    label: usize,
    started: Instant,
    failure: Option<(Outcome, String)>,
) -> (Outcome, u64) {
    let outcome = failure
        .as_ref()
        .map_or(Outcome::Ok, |(outcome, _)| *outcome);
    let latency_us = micros(started.elapsed());
    let _ = runner.events.send(Event::Call(CallEvent {
        phase: runner.phase_index,
        label,
        outcome,
        latency_us,
        send_lag_us: 0,
        mixup: false,
        message: failure.map(|(_, why)| format!("opening a session: {why}")),
    }));
    (outcome, latency_us)
}
