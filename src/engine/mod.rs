//! The engine: runs a scenario's phases against a server and feeds the stats
//! aggregator. It owns the server's life: spawn, session, probe, crash watch,
//! orderly stop.

mod churn;
mod coldstart;
pub mod control;
mod load;
mod robustness;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::probe::TreeSampler;
use crate::protocol::catalog;
use crate::protocol::{ProtocolChoice, Session, SetupError};
use crate::scenario::autogen;
use crate::scenario::file::{COLDSTART_LABEL, SESSION_OPEN_LABEL};
use crate::scenario::{Load, Scenario};
use crate::stats::{Aggregator, ConnectionHandles, Event, PhasePlan, RunPlan, Snapshot};
use crate::transport::{ConnectError, ConnectOptions, Connection, Target};
pub use control::{Halt, LoadControl};
use load::{PhaseRunner, ProbeKick};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(
        "a cold-start phase starts the server itself: give the server command \
         (--server-cmd), not only --url"
    )]
    ColdStartNeedsCommand,
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("automatic mix: {0}")]
    AutoMix(String),
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
            })
            .collect(),
        labels: scenario.labels.clone(),
    }
}

/// Samples per phase, at least, when the phase's call count is known: a fast
/// server can finish a phase between two timer samples, and its RSS trend
/// needs points spread over the calls, not over the clock.
const SAMPLES_PER_PHASE: u64 = 100;
/// The closest two samples may be, so call-driven sampling stays cheap.
const MIN_SAMPLE_SPACING: Duration = Duration::from_millis(1);

/// Samples the server tree on a timer, on call progress, and on demand (at
/// phase boundaries).
struct Monitor {
    /// `None` once the final sample is taken: nothing is sampled after it.
    sampler: Arc<std::sync::Mutex<Option<TreeSampler>>>,
    events: mpsc::UnboundedSender<Event>,
    kick: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Monitor {
    fn start(pid: u32, interval: Duration, events: mpsc::UnboundedSender<Event>) -> Monitor {
        let sampler = Arc::new(std::sync::Mutex::new(Some(TreeSampler::new(pid))));
        let kick = Arc::new(tokio::sync::Notify::new());
        let task = {
            let sampler = sampler.clone();
            let events = events.clone();
            let kick = kick.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut last = Instant::now();
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = kick.notified() => {}
                    }
                    let since = last.elapsed();
                    if since < MIN_SAMPLE_SPACING {
                        tokio::time::sleep(MIN_SAMPLE_SPACING - since).await;
                    }
                    last = Instant::now();
                    if !sample_into(&sampler, &events, false) {
                        break;
                    }
                }
            })
        };
        Monitor {
            sampler,
            events,
            kick,
            task,
        }
    }

    /// What a phase's workers use to ask for a sample every `every` calls.
    fn kick_every(&self, planned_calls: Option<u64>) -> Option<ProbeKick> {
        Some(ProbeKick {
            notify: self.kick.clone(),
            every: (planned_calls? / SAMPLES_PER_PHASE).max(1),
        })
    }

    fn sample_now(&self) {
        sample_into(&self.sampler, &self.events, false);
    }

    /// Take the last sample, before the server is stopped. A timer sample
    /// still under way cannot come after it: a process that is exiting reads
    /// as having freed its memory, and would stand as the final figure.
    fn finish(&self) {
        sample_into(&self.sampler, &self.events, true);
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Take one sample; false once the process is gone.
fn sample_into(
    sampler: &std::sync::Mutex<Option<TreeSampler>>,
    events: &mpsc::UnboundedSender<Event>,
    last: bool,
) -> bool {
    // Sent under the lock: samples reach the aggregator in the order they were
    // taken, so a timer sample cannot land after (and stand for) a later one.
    let Ok(mut slot) = sampler.lock() else {
        return false;
    };
    let Some(tree) = slot.as_mut() else {
        return false;
    };
    let sampled = match tree.sample() {
        Some((sample, members)) => {
            let _ = events.send(Event::Probe {
                at: Instant::now(),
                sample,
                members,
            });
            true
        }
        None => false,
    };
    if last {
        *slot = None;
    }
    sampled
}

/// Run one scenario to its end and return the final snapshot. Snapshots are
/// published on `publish` as the run goes. A setup failure (server missing,
/// handshake refused) is an `Err`; a crash mid-run is part of the result.
pub async fn run_scenario(
    scenario: &Scenario,
    options: &RunOptions,
    publish: watch::Sender<Arc<Snapshot>>,
    halt: Halt,
    control: LoadControl,
) -> Result<Snapshot, EngineError> {
    let (events, events_rx) = mpsc::unbounded_channel();
    let aggregator = Aggregator::new(plan(scenario), scenario.criteria.clone());
    let aggregated = tokio::spawn(aggregator.run(events_rx, publish, options.snapshot_interval));
    let result = drive(scenario, options, events, halt, control).await;
    // `drive` has dropped its sender: the aggregator drains and finishes.
    let snapshot = aggregated.await.unwrap_or_default();
    result.map(|()| snapshot)
}

async fn drive(
    scenario: &Scenario,
    options: &RunOptions,
    events: mpsc::UnboundedSender<Event>,
    user_halt: Halt,
    control: LoadControl,
) -> Result<(), EngineError> {
    let timeout = options.call_timeout.unwrap_or(scenario.call_timeout);
    let probe_interval = options.probe_interval.unwrap_or(scenario.probe_interval);
    let needs_session = scenario
        .phases
        .iter()
        .any(|p| !matches!(p.load, Load::ColdStart { .. }));
    // The load stops on the user's word or on a crash; only the user's word
    // is an interruption.
    let halt = Halt::default();
    {
        let halt = halt.clone();
        let user_halt = user_halt.clone();
        tokio::spawn(async move {
            user_halt.wait().await;
            halt.set();
        });
    }
    let mut session = None;
    let mut monitor = None;
    let mut crash_watch = None;
    if needs_session {
        let connection = Connection::open(&options.target, options.connect).await?;
        let opened = Arc::new(Session::open(connection, options.protocol, timeout).await?);
        let conn = opened.connection();
        let _ = events.send(Event::Connected(ConnectionHandles {
            pid: conn.pid(),
            transport: conn.transport_name(),
            server: opened.server().clone(),
            correlator: conn.correlator(),
            stderr: conn.output(),
        }));
        for note in catalog::learn_param_headers(&opened, timeout).await {
            let _ = events.send(Event::Note(note));
        }
        monitor = conn
            .pid()
            .map(|pid| Monitor::start(pid, probe_interval, events.clone()));
        crash_watch = Some(watch_for_crash(
            opened.clone(),
            events.clone(),
            halt.clone(),
        ));
        session = Some(opened);
    }
    // Whatever happens from here on, the cleanup below runs: the probe and
    // the crash watch let go of the event channel (or the aggregator would
    // wait for them forever) and the server is stopped.
    let outcome: Result<(), EngineError> = async {
        let phases = match &session {
            Some(session) if scenario.has_auto_mix() => {
                let catalog = catalog::read(session, timeout)
                    .await
                    .map_err(|e| EngineError::AutoMix(e.to_string()))?;
                let (phases, added) =
                    autogen::expand_auto(&scenario.phases, &scenario.labels, &catalog.tools)
                        .map_err(EngineError::AutoMix)?;
                let _ = events.send(Event::LabelsAdded(added));
                phases
            }
            _ => scenario.phases.clone(),
        };
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
            let runner = |session: &Arc<Session>, probe_kick| PhaseRunner {
                session: session.clone(),
                phase_index: index,
                phase: Arc::new(phase.clone()),
                seq: seq.clone(),
                events: events.clone(),
                timeout,
                halt: halt.clone(),
                control: control.clone(),
                probe_kick,
            };
            match (&phase.load, &session) {
                (Load::ColdStart { iterations }, _) => {
                    let label = label_index(scenario, COLDSTART_LABEL);
                    coldstart::run(
                        index,
                        phase,
                        *iterations,
                        label,
                        options,
                        timeout,
                        &events,
                        &halt,
                        &control,
                    )
                    .await?;
                }
                (
                    Load::Churn {
                        sessions,
                        calls_per_session,
                        end,
                    },
                    Some(session),
                ) => {
                    churn::Churn {
                        main: session,
                        // Churn samples after every session instead.
                        runner: runner(session, None),
                        session_open_label: label_index(scenario, SESSION_OPEN_LABEL),
                        options,
                        monitor: monitor.as_ref(),
                    }
                    .run(*sessions, *calls_per_session, *end)
                    .await?;
                }
                (
                    Load::Robustness {
                        rounds,
                        huge_request_kb,
                    },
                    Some(session),
                ) => {
                    robustness::Robustness {
                        main: session,
                        runner: runner(session, None),
                        options,
                    }
                    .run(*rounds, *huge_request_kb)
                    .await?;
                }
                (_, Some(session)) => {
                    let kick = monitor
                        .as_ref()
                        .and_then(|m| m.kick_every(phase.load.planned_calls()));
                    runner(session, kick).run().await;
                }
                (_, None) => unreachable!("a session is opened whenever a phase needs one"),
            }
            let _ = events.send(Event::PhaseEnded {
                phase: index,
                at: Instant::now(),
            });
        }
        Ok(())
    }
    .await;
    if user_halt.is_set() {
        let _ = events.send(Event::Note(
            "interrupted: the run was stopped before its end".into(),
        ));
    }
    if let Some(monitor) = &monitor {
        monitor.finish();
    }
    drop(monitor);
    if let Some(watch) = crash_watch {
        let crashed = session.as_ref().is_some_and(|s| s.connection().is_closed());
        if crashed {
            // Let it report the crash before the aggregator closes.
            let _ = watch.await;
        } else {
            watch.abort();
        }
    }
    if let Some(session) = session {
        let closed = session.close(options.shutdown_grace).await;
        if closed.forced {
            let how = match options.target {
                Target::Stdio(_) => "of its stdin closing",
                Target::Http(_) => "of SIGTERM",
            };
            let _ = events.send(Event::Note(format!(
                "the server did not exit within {:?} {how} and was stopped ({})",
                options.shutdown_grace,
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

fn label_index(scenario: &Scenario, label: &str) -> usize {
    scenario.labels.iter().position(|l| l == label).unwrap_or(0)
}

/// Report the server's hang-up as a crash and halt the load (on_crash = "abort").
/// The first sign is its stdout closing; the exit status follows.
fn watch_for_crash(
    session: Arc<Session>,
    events: mpsc::UnboundedSender<Event>,
    halt: Halt,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let connection = session.connection();
        connection.wait_closed().await;
        halt.set();
        let exit = match connection.process() {
            Some(process) => process.wait_exit(Duration::from_secs(1)).await.map_or(
                "its stdout closed, the process is still running".to_string(),
                |i| i.to_string(),
            ),
            None => "the process is gone".to_string(),
        };
        // Give the stderr drain a moment to catch the server's last words.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let last_words = connection.output_tail(3).join(" | ");
        let _ = events.send(Event::Crash {
            at: Instant::now(),
            description: format!("server exited mid-run ({exit}); stderr: {last_words}"),
        });
        let _ = events.send(Event::Note(
            "on_crash = \"abort\": the remaining calls and phases were not run".into(),
        ));
    })
}
