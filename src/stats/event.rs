//! What flows from the load workers and the probe into the stats aggregator.

use std::sync::Arc;
use std::time::Instant;

use super::limits::{CapacityResult, SessionsResult};
use super::snapshot::StageSends;
use crate::probe::{Member, ProbeSample};
use crate::protocol::bad_input::BadInput;
use crate::protocol::{Outcome, ServerInfo};
use crate::transport::{Correlator, StderrTail, TransportKind};

/// One finished call.
#[derive(Debug, Clone)]
pub struct CallEvent {
    pub phase: usize,
    /// Index into the scenario's label table (tool name or method).
    pub label: usize,
    pub outcome: Outcome,
    /// From send (open model: scheduled send) to parsed response.
    pub latency_us: u64,
    /// Open model only: how late the send was against its schedule.
    pub send_lag_us: u64,
    /// The response matched its id but carried another request's content.
    pub mixup: bool,
    pub message: Option<String>,
}

/// One cold-start iteration, timed by stage.
#[derive(Debug, Clone)]
pub struct ColdStartEvent {
    pub phase: usize,
    /// The label the whole iteration is counted under.
    pub label: usize,
    pub spawn_us: u64,
    pub initialize_us: u64,
    pub call_us: u64,
    pub exit_us: u64,
    pub total_us: u64,
    pub outcome: Outcome,
    pub message: Option<String>,
}

/// Handles on a live connection, read (never locked for long) at each snapshot.
#[derive(Clone)]
pub struct ConnectionHandles {
    /// The process measured; `None` when mcpstorm knows no server process
    /// (an HTTP URL without --server-cmd or --pid).
    pub pid: Option<u32>,
    pub transport: TransportKind,
    /// Over HTTP, the URL the calls go to, as shown.
    pub endpoint: Option<String>,
    pub server: ServerInfo,
    pub correlator: Arc<Correlator>,
    pub stderr: Arc<StderrTail>,
}

pub enum Event {
    Connected(ConnectionHandles),
    /// Tools an automatic mix found on the server, labelled after the
    /// scenario's own labels in this order.
    LabelsAdded(Vec<String>),
    PhaseStarted {
        phase: usize,
        at: Instant,
    },
    PhaseEnded {
        phase: usize,
        at: Instant,
    },
    Call(CallEvent),
    /// mcpstorm could not send a call (it ran out of file descriptors): not
    /// a call of the server's, and not its failure.
    NotSent {
        phase: usize,
        why: String,
    },
    /// A churned session ended (closed or abandoned); a probe sample was
    /// taken just before this event.
    SessionEnded {
        phase: usize,
    },
    ColdStart(ColdStartEvent),
    Probe {
        at: Instant,
        sample: ProbeSample,
        members: Vec<Member>,
    },
    /// After a crash, a fresh server took the crashed one's place
    /// (on_crash = "restart"); `pid`: its process, when known.
    Restarted {
        at: Instant,
        pid: Option<u32>,
    },
    /// A robustness probe: what the server did with one bad input.
    /// A capacity search's step began: the rate it asks from now on (the
    /// dashboard draws it as the target).
    StepRate {
        phase: usize,
        at: Instant,
        per_second: f64,
    },
    /// A capacity search ended: its steps and what it found.
    /// A ramp of rates ended: how each of its stages' sends went.
    Stages {
        phase: usize,
        stages: Vec<StageSends>,
    },
    /// A sessions phase's result so far (after each window) and at its end.
    SessionsHeld {
        phase: usize,
        result: SessionsResult,
    },
    Capacity {
        phase: usize,
        result: CapacityResult,
    },
    BadInput {
        phase: usize,
        input: BadInput,
        answer: String,
        as_expected: bool,
    },
    /// mcpstorm itself did not run from `at` for `lasted` (the host
    /// stopped it, or starved it of CPU): calls in flight then look slow
    /// for no fault of the server's.
    Stalled {
        at: Instant,
        lasted: std::time::Duration,
    },
    /// The server exited while the run needed it.
    Crash {
        at: Instant,
        description: String,
    },
    /// A line for the report's notes (abort reasons and the like).
    Note(String),
    /// A person paused, resumed or turned the load dial: the state since.
    Control {
        at: Instant,
        paused: bool,
        load_scale: f64,
    },
    /// The abort rule stopped the load: why.
    Aborted(String),
    /// A server did not exit when asked and had to be killed.
    ForcedStop,
    /// The person (or a signal) stopped the run before its end.
    Interrupted,
}
