//! The engine: runs a scenario's phases against a server and feeds the stats
//! aggregator. It owns the server's life: spawn, session, probe, crash watch,
//! orderly stop.

pub(crate) mod control;
pub(crate) mod crash;
pub(crate) mod monitor;
pub(crate) mod panics;
mod phase;
pub(crate) mod preflight;
mod runner;
mod stall_watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::client::catalog;
use crate::client::{ProtocolChoice, Session, SetupError};
use crate::scenario::{OnCrash, Scenario};
use crate::stats::{Aggregator, ConnectionHandles, Event, PhasePlan, RunPlan, Snapshot};
use crate::transport::{ConnectError, ConnectOptions, Connection, Target};
pub use control::{CancelToken, LoadControl};
use crash::LiveSession;
pub use monitor::MeasuredProcess;
use monitor::Monitor;
pub use phase::PhaseContext;
pub use runner::{Counted, PhaseRunner};
pub(crate) use runner::{micros, send};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(
        "a cold-start phase starts the server itself: give the server command \
         (--server-cmd), not only --url"
    )]
    ColdStartNeedsCommand,
    #[error(
        "sessions as users (`kind = \"sessions\"`) need a server over HTTP (--url, or a \
         command that serves HTTP): over stdio each session is a server process of its own"
    )]
    SessionsNeedHttp,
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("automatic mix: {0}")]
    AutoMix(String),
    /// The scenario calls tools or prompts the server does not offer.
    #[error("{0}")]
    NotOffered(String),
    #[error("interrupted while {0}")]
    Interrupted(&'static str),
    /// A load model that calls on the run's session found none: a model
    /// whose `uses_the_session` says otherwise.
    #[error("internal error: the phase \"{0}\" needs the run's session, and none was opened")]
    NoSession(String),
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub target: Target,
    pub protocol: ProtocolChoice,
    /// Overrides the scenario's per-call timeout.
    pub call_timeout: Option<Duration>,
    /// Overrides the scenario's probe interval.
    pub probe_interval: Option<Duration>,
    pub connect: ConnectOptions,
    /// How long a server gets to exit after its stdin closes, and after SIGTERM.
    pub shutdown_grace: Duration,
    /// How often the aggregator publishes a snapshot.
    pub snapshot_interval: Duration,
    /// Measure the first process of the tree whose command line contains
    /// this (and its descendants), instead of the whole tree.
    pub measure_process: Option<String>,
    /// `--start-at`: the phases begin no earlier than this (the server
    /// connected to and its tools listed before).
    pub start_at: Option<std::time::SystemTime>,
}

fn plan(scenario: &Scenario) -> RunPlan {
    RunPlan {
        scenario: scenario.name.clone(),
        phases: scenario
            .phases
            .iter()
            .map(|p| PhasePlan {
                name: p.name.clone(),
                warmup: p.warmup,
                load: p.load.to_string(),
                planned_calls: p.load.planned_calls(),
                follows_the_dial: p.load.follows_the_dial(),
                target_per_s: p.load.target_per_s(),
                target_ramp: p.load.target_ramp().map(Into::into),
            })
            .collect(),
        labels: scenario.labels.clone(),
        abort_after: scenario.abort_after,
    }
}

/// Wait for `--start-at` if it is ahead (the run's first scenario), and
/// say in a note how the load's start stood to it.
async fn wait_for_start(
    start_at: std::time::SystemTime,
    events: &mpsc::UnboundedSender<Event>,
    interrupt: &CancelToken,
) -> Result<(), EngineError> {
    let now = std::time::SystemTime::now();
    match start_at.duration_since(now) {
        Ok(ahead) => {
            let _ = events.send(Event::Note(format!(
                "--start-at: waiting {:.1} s for the common start",
                ahead.as_secs_f64()
            )));
            let waiting = tokio::time::sleep(ahead);
            interrupt
                .unless(waiting)
                .await
                .ok_or(EngineError::Interrupted("waiting for --start-at"))?;
            let _ = events.send(Event::Note(format!(
                "--start-at: the load began at the common start, after {:.3} s of waiting",
                ahead.as_secs_f64()
            )));
        }
        Err(past) => {
            let _ = events.send(Event::Note(format!(
                "--start-at: the common start had passed {:.3} s before this scenario was \
                 ready: its load began late",
                past.duration().as_secs_f64()
            )));
        }
    }
    Ok(())
}

/// Send each pause, resume and turn of the load dial to the aggregator, for
/// the report and the charts (the state at the start, if not as written).
async fn record_control(control: LoadControl, events: mpsc::UnboundedSender<Event>) {
    // False once the aggregator is gone.
    let send = |state: control::ControlState| {
        events
            .send(Event::Control {
                at: Instant::now(),
                paused: state.paused,
                load_scale: state.load_scale,
            })
            .is_ok()
    };
    let mut changes = control.changes();
    let mut last = control.state();
    if (last.paused || last.load_scale != 1.0) && !send(last) {
        return;
    }
    while changes.changed().await.is_ok() {
        let state = control.state();
        if state != last {
            last = state;
            if !send(state) {
                return;
            }
        }
    }
}

/// Run one scenario to its end and return the final snapshot. Snapshots are
/// published on `publish` as the run goes. A setup failure (server missing,
/// handshake refused) is an `Err`; a crash mid-run is part of the result.
pub async fn run_scenario(
    scenario: &Scenario,
    options: &RunOptions,
    publish: watch::Sender<Arc<Snapshot>>,
    halt: CancelToken,
    control: LoadControl,
) -> Result<Snapshot, EngineError> {
    let (events, events_rx) = mpsc::unbounded_channel();
    let mut aggregator = Aggregator::new(plan(scenario), Box::new(scenario.criteria.clone()));
    // Under --start-at the run clock counts from the common start, so the
    // segments' seconds (their time lines' windows) are the same seconds.
    let common_start = options.start_at.and_then(|at| {
        let ahead = at.duration_since(std::time::SystemTime::now()).ok()?;
        Some(Instant::now() + ahead)
    });
    if let Some(origin) = common_start {
        aggregator = aggregator.with_clock_origin(origin);
    }
    let aggregated = tokio::spawn(aggregator.run(events_rx, publish, options.snapshot_interval));
    let recorder = tokio::spawn(record_control(control.clone(), events.clone()));
    let stall_watch = stall_watch::start(events.clone());
    let result = drive(scenario, options, events, halt, control).await;
    // Their senders too, so that the aggregator sees the end.
    drop(stall_watch);
    recorder.abort();
    let _ = recorder.await;
    // `drive` has dropped its sender: the aggregator drains and finishes.
    let snapshot = aggregated.await.unwrap_or_default();
    result.map(|()| snapshot)
}

async fn drive(
    scenario: &Scenario,
    options: &RunOptions,
    events: mpsc::UnboundedSender<Event>,
    user_halt: CancelToken,
    control: LoadControl,
) -> Result<(), EngineError> {
    let timeout = options.call_timeout.unwrap_or(scenario.call_timeout);
    let probe_interval = options.probe_interval.unwrap_or(scenario.probe_interval);
    let needs_session = scenario.phases.iter().any(|p| p.load.uses_the_session());
    // The load stops on the user's word or on a crash; only the user's word
    // is an interruption.
    let halt = CancelToken::default();
    {
        let halt = halt.clone();
        let user_halt = user_halt.clone();
        tokio::spawn(async move {
            user_halt.wait().await;
            halt.set();
        });
    }
    let abandoned = Arc::new(AtomicU64::new(0));
    // Across phases: a server that stopped answering in the warm-up has not
    // started again because the load phase began.
    let no_answer_streak = Arc::new(AtomicU64::new(0));
    let mut live: Option<LiveSession> = None;
    let mut monitor: Option<Arc<Monitor>> = None;
    let mut crash_watch = None;
    // Set at the end of the run: the crash watch stops watching.
    let finished = CancelToken::default();
    if needs_session {
        let opening = async {
            let connection = Connection::open(&options.target, options.connect).await?;
            Ok::<_, EngineError>(
                Session::open(
                    connection,
                    options.protocol,
                    options.connect.startup_timeout,
                )
                .await?,
            )
        };
        let opened = Arc::new(user_halt.unless(opening).await.ok_or(
            EngineError::Interrupted("starting the server and opening the session"),
        )??);
        let conn = opened.connection();
        let _ = events.send(Event::Connected(ConnectionHandles {
            pid: conn.pid(),
            transport: conn.kind(),
            endpoint: conn.endpoint(),
            server: opened.server().clone(),
            correlator: conn.correlator(),
            stderr: conn.output(),
        }));
        for note in conn.setup_notes() {
            let _ = events.send(Event::Note(note));
        }
        let learning = catalog::learn_param_headers(&opened, timeout);
        for note in user_halt.unless(learning).await.unwrap_or_default() {
            let _ = events.send(Event::Note(note));
        }
        monitor = conn.pid().map(|pid| {
            let shown = (
                options.measure_process.clone(),
                Arc::from(options.target.secrets()),
            );
            Arc::new(Monitor::start(pid, shown, probe_interval, events.clone()))
        });
        let session = LiveSession::new(opened, scenario.on_crash == OnCrash::Restart);
        crash_watch = Some(crash::watch(
            session.clone(),
            scenario.on_crash,
            options.clone(),
            timeout,
            events.clone(),
            (halt.clone(), finished.clone()),
            monitor.clone(),
        ));
        live = Some(session);
    }
    // Whatever happens from here on, the cleanup below runs: the probe and
    // the crash watch let go of the event channel (or the aggregator would
    // wait for them forever) and the server is stopped.
    let outcome: Result<(), EngineError> = async {
        let phases = match &live {
            Some(live) => {
                let session = live.current();
                let preparing =
                    preflight::prepare(&session, &scenario.phases, &scenario.labels, timeout);
                let prepared = user_halt
                    .unless(preparing)
                    .await
                    .ok_or(EngineError::Interrupted("listing the server's tools"))??;
                if !prepared.added_labels.is_empty() {
                    let _ = events.send(Event::LabelsAdded(prepared.added_labels));
                }
                for note in prepared.notes {
                    let _ = events.send(Event::Note(note));
                }
                prepared.phases
            }
            None => scenario.phases.clone(),
        };
        if let Some(start_at) = options.start_at {
            wait_for_start(start_at, &events, &user_halt).await?;
        }
        let seq = Arc::new(AtomicU64::new(0));
        for (index, phase) in phases.iter().enumerate() {
            if halt.is_set() {
                break;
            }
            if let Some(monitor) = &monitor {
                monitor.sample_now();
            }
            let _ = events.send(Event::PhaseStarted {
                phase: index,
                at: Instant::now(),
            });
            let runner = live.as_ref().map(|live| PhaseRunner {
                live: live.clone(),
                phase_index: index,
                phase: Arc::new(phase.clone()),
                seq: seq.clone(),
                events: events.clone(),
                timeout,
                halt: halt.clone(),
                interrupt: user_halt.clone(),
                abandoned: abandoned.clone(),
                no_answer_streak: no_answer_streak.clone(),
                abort_after: scenario.abort_after,
                control: control.clone(),
                probe_kick: None,
            });
            let context = PhaseContext {
                index,
                phase,
                options,
                timeout,
                labels: &scenario.labels,
                events: &events,
                halt: &halt,
                control: &control,
                monitor: monitor.as_deref(),
                runner,
            };
            phase.load.run(context).await?;
            let _ = events.send(Event::PhaseEnded {
                phase: index,
                at: Instant::now(),
            });
        }
        Ok(())
    }
    .await;
    if user_halt.is_set() {
        let _ = events.send(Event::Interrupted);
        let _ = events.send(Event::Note(
            "interrupted: the run was stopped before its end".into(),
        ));
        let abandoned = abandoned.load(Ordering::Relaxed);
        if abandoned > 0 {
            let _ = events.send(Event::Note(format!(
                "{abandoned} call(s) in flight at the interruption were abandoned, not counted"
            )));
        }
    }
    if let Some(monitor) = &monitor {
        monitor.finish();
    }
    drop(monitor);
    finished.set();
    if let Some(watch) = crash_watch {
        // A crash at the very end is still reported before the aggregator
        // closes; otherwise the watch just stops.
        let _ = tokio::time::timeout(CRASH_REPORT_WAIT, watch).await;
    }
    // Someone stopped the run and is waiting: the server gets a short grace.
    let grace = if user_halt.is_set() {
        options.shutdown_grace.min(INTERRUPTED_GRACE)
    } else {
        options.shutdown_grace
    };
    if let Some(session) = live.map(|live| live.current()) {
        let closed = session.close(grace).await;
        if closed.forced {
            let _ = events.send(Event::ForcedStop);
            let _ = events.send(Event::Note(format!(
                "the server did not exit within {grace:?} of {} and was stopped ({})",
                options.target.kind().polite_stop(),
                closed.exit.unwrap_or_default()
            )));
        }
        if let Some(status) = closed.session_end {
            let _ = events.send(Event::Note(format!(
                "the HTTP session was ended with DELETE: HTTP {status}"
            )));
        }
    }
    outcome
}

/// How long a server gets to exit, at each step of its stop, once the
/// person has stopped the run: they are waiting for the report.
const INTERRUPTED_GRACE: Duration = Duration::from_millis(300);

/// Longest wait for the crash watch to report a crash at the end of a run.
const CRASH_REPORT_WAIT: Duration = Duration::from_secs(5);
