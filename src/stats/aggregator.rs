//! The stats aggregator: the one place events become figures.
//!
//! It owns every histogram and counter, consumes events from the workers and the
//! probe, and publishes an immutable [`Snapshot`] at a fixed rate on a `watch`
//! channel. Readers take the newest snapshot without ever blocking the load.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::accumulate::*;
use super::attribution::{DESCRIPTORS, MEMORY, NotAttributed, Resource, retained_per_label};
use super::event::{CallEvent, ConnectionHandles, Event};
use super::series::Series;
use super::snapshot::*;
use super::steadiness::Steadiness;
use super::trend::{RISE_TAKEN_AS_GROWTH_S, RssTrend, Settling, server_memory};
use super::verdict_history::VerdictHistory;
use crate::protocol::untrusted::quote;

/// Longest note kept (a crash's note quotes the server's last stderr lines).
const NOTE_CHARS: usize = 2_000;
/// Pauses and load changes, crashes, stalls listed (each kind); later
/// ones are counted.
const MARKS_LISTED: usize = 1000;
use crate::probe::ProbeSample;

const RECENT_ERRORS: usize = 8;
const STDERR_SHOWN: usize = 20;
/// How often queued events are collected.
const DRAIN_EVERY: Duration = Duration::from_millis(20);
/// A send more than this behind its schedule counts as late.
const LATE_SEND_US: u64 = 2000;

/// What the aggregator needs to know of the scenario before the first event.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub scenario: String,
    pub phases: Vec<PhasePlan>,
    /// Tool names and methods of the call mix; events refer to them by index.
    pub labels: Vec<String>,
    /// The scenario's abort rule (calls in a row without an answer).
    pub abort_after: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct PhasePlan {
    pub name: String,
    pub warmup: bool,
    pub load: String,
    pub planned_calls: Option<u64>,
    /// Whether the load dial changes it (`LoadModel::follows_the_dial`).
    pub follows_the_dial: bool,
    /// An open model's arrival rate (`LoadModel::target_per_s`).
    pub target_per_s: Option<f64>,
    /// A ramp's rate over the phase (`LoadModel::target_ramp`).
    pub target_ramp: Option<Arc<[(f64, f64)]>>,
}

/// The most points a capacity search's step line keeps (its steps are
/// tens at most; a hostile scenario cannot make it grow without bound).
const STEP_POINTS: usize = 1_000;

/// Shown wherever a server-side figure would be.
pub const UNMEASURED: &str =
    "not measured: mcpstorm knows no server process (give --server-cmd or --pid)";

pub struct Aggregator {
    plan: RunPlan,
    judge: Box<dyn Judge>,
    /// When each criterion's state changed.
    verdicts: VerdictHistory,
    /// How long the server's memory trend has held, snapshot to snapshot.
    steadiness: Steadiness,
    started: Instant,
    phases: Vec<PhaseAcc>,
    current_phase: Option<usize>,
    total: CallAcc,
    labels: Vec<CallAcc>,
    window: OpenWindow,
    windows: Series<WindowPoint>,
    probe: ProbeAcc,
    coldstart: ColdStartAcc,
    connection: Option<ConnectionHandles>,
    mixups: u64,
    crashes: u64,
    /// Calls mcpstorm could not send, and why the first could not.
    not_sent: u64,
    not_sent_why: Option<String>,
    /// Why the load was stopped before its end by the abort rule.
    aborted: Option<String>,
    interrupted: bool,
    forced_stops: u64,
    restarts_at_s: Vec<f64>,
    crashes_at_s: Vec<f64>,
    stalls: Vec<Stall>,
    stalls_not_listed: u64,
    recent_errors: VecDeque<String>,
    notes: Vec<String>,
    /// Pauses and turns of the load dial (`Event::Control`).
    control_changes: Vec<ControlChange>,
    control_changes_not_listed: u64,
}

impl Aggregator {
    pub fn new(plan: RunPlan, judge: Box<dyn Judge>) -> Self {
        let started = Instant::now();
        let labels = vec![CallAcc::default(); plan.labels.len()];
        let phases = plan
            .phases
            .iter()
            .map(|p| PhaseAcc {
                plan: p.clone(),
                calls: CallAcc::default(),
                labels: labels.clone(),
                started: None,
                ended: None,
                late_sends: 0,
                max_send_lag_us: 0,
                churn: ChurnAcc::default(),
                bad_inputs: Default::default(),
                capacity: None,
                sessions: None,
                stages: None,
                step_rates: Vec::new(),
            })
            .collect();
        Aggregator {
            plan,
            judge,
            verdicts: VerdictHistory::default(),
            steadiness: Steadiness::default(),
            started,
            phases,
            current_phase: None,
            total: CallAcc::default(),
            labels,
            window: OpenWindow {
                start: started,
                calls: CallAcc::default(),
            },
            windows: Series::new(SERIES_POINTS),
            probe: ProbeAcc::default(),
            coldstart: ColdStartAcc::default(),
            connection: None,
            mixups: 0,
            crashes: 0,
            not_sent: 0,
            not_sent_why: None,
            aborted: None,
            interrupted: false,
            forced_stops: 0,
            restarts_at_s: Vec::new(),
            crashes_at_s: Vec::new(),
            stalls: Vec::new(),
            stalls_not_listed: 0,
            recent_errors: VecDeque::new(),
            notes: Vec::new(),
            control_changes: Vec::new(),
            control_changes_not_listed: 0,
        }
    }

    /// Consume events until every sender is gone, publishing a snapshot every
    /// `interval`; returns the final snapshot (also published).
    ///
    /// Events are collected on a short tick, not as each arrives: a receiver
    /// asleep on the channel is woken by every send, a wake-up on another
    /// thread for each call, which was most of a call's cost at moderate
    /// rates. A tick costs that once per `DRAIN_EVERY`, whatever the rate, and
    /// holds at most that long's events.
    pub async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        publish: watch::Sender<Arc<Snapshot>>,
        interval: Duration,
    ) -> Snapshot {
        let mut drain = tokio::time::interval(DRAIN_EVERY.min(interval));
        drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_publish = Instant::now() + interval;
        loop {
            drain.tick().await;
            let open = self.drain(&mut events);
            if !open {
                break;
            }
            let now = Instant::now();
            if now >= next_publish {
                let _ = publish.send(Arc::new(self.snapshot(false)));
                next_publish = now + interval;
            }
        }
        let last = self.snapshot(true);
        let _ = publish.send(Arc::new(last.clone()));
        last
    }

    /// Apply every event queued so far; false once every sender is gone.
    fn drain(&mut self, events: &mut mpsc::UnboundedReceiver<Event>) -> bool {
        loop {
            match events.try_recv() {
                Ok(event) => self.apply(event),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Count the run clock from `origin` (ahead: `--start-at`'s common
    /// start) rather than from now; before it, the clock reads 0.
    pub fn with_clock_origin(mut self, origin: Instant) -> Aggregator {
        self.started = origin;
        self.window.start = origin;
        self
    }

    fn elapsed_s(&self, at: Instant) -> f64 {
        at.duration_since(self.started).as_secs_f64()
    }

    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Connected(handles) => self.connection = Some(handles),
            Event::LabelsAdded(labels) => {
                self.plan.labels.extend(labels);
                let count = self.plan.labels.len();
                self.labels.resize(count, CallAcc::default());
                for phase in &mut self.phases {
                    phase.labels.resize(count, CallAcc::default());
                }
            }
            Event::PhaseStarted { phase, at } => self.phase_started(phase, at),
            Event::PhaseEnded { phase, at } => {
                if let Some(p) = self.phases.get_mut(phase) {
                    p.ended = Some(at);
                }
            }
            Event::Call(call) => self.record_call(&call),
            Event::SessionEnded { phase } => {
                // Only an HTTP server outlives its sessions: over stdio each
                // session is a process of its own, and the one watched is idle.
                let shared_server = self
                    .connection
                    .as_ref()
                    .is_some_and(|c| c.transport.sessions_share_a_server());
                let rss = self
                    .probe
                    .latest
                    .map(|s| s.rss_bytes)
                    .filter(|_| shared_server);
                if let Some(p) = self.phases.get_mut(phase) {
                    p.churn.session_ended(rss);
                }
            }
            Event::StepRate {
                phase,
                at,
                per_second,
            } => {
                if let Some(acc) = self.phases.get_mut(phase)
                    && let Some(started) = acc.started
                    && acc.step_rates.len() < STEP_POINTS
                {
                    let t = at.saturating_duration_since(started).as_secs_f64();
                    if let Some(&(_, before)) = acc.step_rates.last() {
                        acc.step_rates.push((t, before));
                    }
                    acc.step_rates.push((t, per_second));
                }
            }
            Event::Stages { phase, stages } => {
                if let Some(acc) = self.phases.get_mut(phase) {
                    acc.stages = Some(stages);
                }
            }
            Event::SessionsHeld { phase, result } => {
                if let Some(acc) = self.phases.get_mut(phase) {
                    acc.sessions = Some(result);
                }
            }
            Event::Capacity { phase, result } => {
                if let Some(acc) = self.phases.get_mut(phase) {
                    acc.capacity = Some(result);
                }
            }
            Event::BadInput {
                phase,
                input,
                answer,
                as_expected,
            } => {
                if let Some(p) = self.phases.get_mut(phase) {
                    p.bad_inputs
                        .entry(input)
                        .or_default()
                        .record(answer, as_expected);
                }
            }
            Event::ColdStart(event) => {
                self.coldstart.record(&event);
                self.record_call(&CallEvent {
                    phase: event.phase,
                    label: event.label,
                    outcome: event.outcome,
                    latency_us: event.total_us,
                    send_lag_us: 0,
                    mixup: false,
                    message: event.message,
                });
            }
            Event::Probe {
                at,
                sample,
                members,
            } => {
                let restarted = self.probe.rebaseline;
                self.record_probe(at, sample);
                let calls_done = self.total.outcomes.total();
                if restarted {
                    self.probe.tree.restart(&members, calls_done);
                } else {
                    self.probe.tree.observe(&members, calls_done);
                }
                self.probe.members = members;
            }
            Event::Crash { at, description } => {
                self.crashes += 1;
                let t = self.elapsed_s(at);
                if self.crashes_at_s.len() < MARKS_LISTED {
                    self.crashes_at_s.push(t);
                }
                self.notes.push(format!("at {t:.1} s: {description}"));
            }
            Event::Restarted { at, pid } => {
                let t = self.elapsed_s(at);
                self.restarts_at_s.push(t);
                if let Some(connection) = &mut self.connection {
                    connection.pid = pid;
                }
                self.probe.rebaseline = true;
                let pid = pid.map_or(String::new(), |pid| format!(" (pid {pid})"));
                self.notes.push(format!(
                    "at {t:.1} s: on_crash = \"restart\": a fresh server{pid} took over; \
                     RSS growth and trend count from its first sample"
                ));
            }
            // Notes may quote the server (a tool's name, its words): kept
            // bounded, and safe to show.
            Event::Note(note) => self.notes.push(quote(&note, NOTE_CHARS)),
            Event::Control {
                at,
                paused,
                load_scale,
            } => {
                let change = ControlChange {
                    at_s: self.elapsed_s(at),
                    paused,
                    load_scale,
                };
                if self.control_changes.len() < MARKS_LISTED {
                    self.control_changes.push(change);
                } else {
                    self.control_changes_not_listed += 1;
                }
            }
            Event::Stalled { at, lasted } => {
                let stall = Stall {
                    at_s: self.elapsed_s(at),
                    lasted_s: lasted.as_secs_f64(),
                };
                if self.stalls.len() < MARKS_LISTED {
                    self.stalls.push(stall);
                } else {
                    self.stalls_not_listed += 1;
                }
            }
            Event::ForcedStop => self.forced_stops += 1,
            Event::Interrupted => self.interrupted = true,
            Event::Aborted(why) => {
                self.aborted.get_or_insert(why);
            }
            Event::NotSent { why, .. } => {
                self.not_sent += 1;
                self.not_sent_why.get_or_insert(why);
            }
        }
    }

    fn phase_started(&mut self, phase: usize, at: Instant) {
        let Some(p) = self.phases.get_mut(phase) else {
            return;
        };
        p.started = Some(at);
        let warmup = p.plan.warmup;
        self.current_phase = Some(phase);
        // Growth counts from the last sample before the first measured phase.
        if !warmup
            && self.probe.baseline.is_none()
            && let Some(latest) = self.probe.latest
        {
            let at_s = self.elapsed_s(at);
            self.probe.set_baseline(latest, at_s);
            self.probe.tree.take_baseline(&self.probe.members);
        }
    }

    fn record_call(&mut self, call: &CallEvent) {
        let now = Instant::now();
        self.roll_windows(now);
        self.total.record(call.outcome, call.latency_us);
        if let Some(label) = self.labels.get_mut(call.label) {
            label.record(call.outcome, call.latency_us);
        }
        self.window.calls.record(call.outcome, call.latency_us);
        if let Some(phase) = self.phases.get_mut(call.phase) {
            phase.calls.record(call.outcome, call.latency_us);
            if let Some(label) = phase.labels.get_mut(call.label) {
                label.record(call.outcome, call.latency_us);
            }
            if call.send_lag_us > LATE_SEND_US {
                phase.late_sends += 1;
            }
            phase.max_send_lag_us = phase.max_send_lag_us.max(call.send_lag_us);
        }
        if call.mixup {
            self.mixups += 1;
        }
        if let Some(message) = &call.message {
            if self.recent_errors.len() == RECENT_ERRORS {
                self.recent_errors.pop_front();
            }
            let label = self
                .plan
                .labels
                .get(call.label)
                .map(String::as_str)
                .unwrap_or("?");
            self.recent_errors.push_back(format!("{label}: {message}"));
        }
    }

    /// Close every whole second that has passed, empty ones included, so the
    /// time line shows a stall as a gap rather than hiding it.
    fn roll_windows(&mut self, now: Instant) {
        let second = Duration::from_secs(1);
        while now.duration_since(self.window.start) >= second {
            let end = self.window.start + second;
            let point = self.window.calls.window_point(self.elapsed_s(end), 1.0);
            self.windows.push(point);
            self.window.start = end;
            self.window.calls.latency.reset();
            self.window.calls.outcomes = OutcomeCounts::default();
        }
    }

    fn record_probe(&mut self, at: Instant, sample: ProbeSample) {
        let t_s = self.elapsed_s(at);
        let probe = &mut self.probe;
        if probe.rebaseline {
            probe.rebaseline = false;
            probe.set_baseline(sample, t_s);
        }
        probe.lower_floor(&sample);
        probe.samples += 1;
        probe.first.get_or_insert(sample);
        probe.latest = Some(sample);
        probe.rss_max = probe.rss_max.max(sample.rss_bytes);
        probe.pss_max = either_or_both(probe.pss_max, sample.pss_bytes, u64::max);
        probe.fds_max = probe.fds_max.max(sample.fds);
        probe.threads_max = probe.threads_max.max(sample.threads);
        probe.cpu_max = probe.cpu_max.max(sample.cpu_percent);
        probe.self_rss_max = probe.self_rss_max.max(sample.self_rss_bytes);
        let calls_done = self.total.outcomes.total();
        let rss_mb = sample.rss_bytes as f64 / MIB;
        self.probe.by_label.push(LabelPoint {
            t_s,
            rss_bytes: sample.rss_bytes as f64,
            fds: f64::from(sample.fds),
            calls: self.labels.iter().map(|l| l.outcomes.total()).collect(),
        });
        self.probe.series.push(ProbePoint {
            t_s,
            calls_done,
            rss_mb,
            rss_min_mb: rss_mb,
            rss_min_calls: calls_done,
            rss_max_mb: rss_mb,
            fds: sample.fds,
            fds_max: sample.fds,
            threads: sample.threads,
            processes: sample.processes,
            cpu_percent: sample.cpu_percent,
            self_rss_mb: sample.self_rss_bytes as f64 / MIB,
            self_cpu_percent: sample.self_cpu_percent,
        });
    }

    /// A resource's floor attributed to the labels, from `since_baseline`
    /// (the label points after the baseline; `None` before there is one), or
    /// why it cannot be (yet).
    fn attributed(
        &self,
        since_baseline: Option<&[&LabelPoint]>,
        value: fn(&LabelPoint) -> f64,
        resource: Resource,
    ) -> (Vec<LabelPerCall>, Option<NotAttributed>) {
        let Some(points) = since_baseline else {
            return (Vec::new(), None);
        };
        let samples: Vec<(&[u64], f64)> = points
            .iter()
            .map(|p| (p.calls.as_slice(), value(p)))
            .collect();
        match retained_per_label(&samples, resource) {
            Ok(found) => (
                found
                    .into_iter()
                    .map(|r| LabelPerCall {
                        label: self.plan.labels.get(r.label).cloned().unwrap_or_default(),
                        per_call: r.per_call,
                        low: r.low,
                        high: r.high,
                        resolved: r.resolved,
                    })
                    .collect(),
                None,
            ),
            Err(why) => (Vec::new(), Some(why)),
        }
    }

    /// The server's memory over a phase that ran from `started` (until
    /// `ended`, or now).
    fn phase_memory(
        &self,
        started: Option<Instant>,
        ended: Option<Instant>,
    ) -> Option<PhaseMemory> {
        let from = self.elapsed_s(started?);
        let until = ended.map_or(f64::INFINITY, |at| self.elapsed_s(at));
        let window: Vec<&ProbePoint> = self
            .probe
            .series
            .iter()
            .filter(|p| p.t_s >= from && p.t_s <= until)
            .collect();
        let lowest = window
            .iter()
            .map(|p| p.rss_min_mb)
            .fold(f64::INFINITY, f64::min);
        let (rss_trend, floor_now_mb) = window_memory(&window);
        Some(PhaseMemory {
            rss_growth_mb: floor_now_mb? - lowest,
            rss_trend,
        })
    }

    fn resources(&self) -> ResourceSnapshot {
        let probe = &self.probe;
        let Some(latest) = probe.latest else {
            return ResourceSnapshot {
                pid: self.connection.as_ref().and_then(|c| c.pid),
                unmeasured: self
                    .connection
                    .as_ref()
                    .is_some_and(|c| c.pid.is_none())
                    .then(|| UNMEASURED.to_string()),
                ..ResourceSnapshot::default()
            };
        };
        let mb = |bytes: u64| bytes as f64 / MIB;
        let series = probe.series.points();
        let baseline = probe.baseline.map(|(sample, _)| sample);
        let (trend, floor_now_mb) = probe.baseline.map_or((None, None), |(_, since)| {
            let window: Vec<&ProbePoint> = series.iter().filter(|p| p.t_s >= since).collect();
            window_memory(&window)
        });
        // One pass over the series serves both resources, its counts borrowed.
        let by_label: Option<Vec<&LabelPoint>> = probe
            .baseline
            .map(|(_, since)| probe.by_label.iter().filter(|p| p.t_s >= since).collect());
        let (retained_by_label, retained_by_label_unmeasured) =
            self.attributed(by_label.as_deref(), |p| p.rss_bytes, MEMORY);
        let (fds_by_label, fds_by_label_unmeasured) =
            self.attributed(by_label.as_deref(), |p| p.fds, DESCRIPTORS);
        ResourceSnapshot {
            sampled: true,
            unmeasured: None,
            // The process measured: the server's, or the one --measure-process found.
            pid: probe
                .members
                .first()
                .map(|m| m.pid)
                .or(self.connection.as_ref().and_then(|c| c.pid)),
            samples: probe.samples,
            rss_start_mb: probe.first.map(|s| mb(s.rss_bytes)),
            rss_baseline_mb: probe.rss_floor.map(mb),
            rss_current_mb: Some(mb(latest.rss_bytes)),
            rss_max_mb: Some(mb(probe.rss_max)),
            rss_growth_mb: probe
                .rss_floor
                .zip(floor_now_mb)
                .map(|(floor, now_mb)| now_mb - mb(floor)),
            rss_trend: trend,
            retained_by_label,
            retained_by_label_unmeasured,
            fds_by_label,
            fds_by_label_unmeasured,
            baseline_at_s: probe.baseline.map(|(_, at)| at),
            pss_start_mb: probe.first.and_then(|s| s.pss_bytes).map(mb),
            pss_baseline_mb: probe.pss_floor.map(mb),
            pss_current_mb: latest.pss_bytes.map(mb),
            pss_max_mb: probe.pss_max.map(mb),
            pss_growth_mb: probe
                .pss_floor
                .zip(latest.pss_bytes)
                .map(|(floor, now)| mb(now) - mb(floor)),
            fds_start: probe.first.map(|s| s.fds),
            fds_baseline: baseline.map(|s| s.fds),
            fds_current: Some(latest.fds),
            fds_max: Some(probe.fds_max),
            threads_current: Some(latest.threads),
            threads_max: Some(probe.threads_max),
            processes: Some(latest.processes),
            processes_max: Some(probe.tree.processes_max()),
            tree_changes: probe.tree.changes(&probe.members),
            cpu_percent: Some(latest.cpu_percent),
            cpu_max_percent: Some(probe.cpu_max),
            self_rss_mb: Some(mb(latest.self_rss_bytes)),
            self_rss_max_mb: Some(mb(probe.self_rss_max)),
            self_cpu_percent: Some(latest.self_cpu_percent),
            members: tree_members(&probe.members, &probe.tree),
            series,
        }
    }

    fn wire(&self) -> WireSnapshot {
        let Some(connection) = &self.connection else {
            return WireSnapshot {
                mixups: self.mixups,
                correlation_violations: self.mixups,
                ..WireSnapshot::default()
            };
        };
        let counters = &connection.correlator.counters;
        let count = counters.read();
        let setups = counters.connection_setups();
        let tokens = counters.token_fetches();
        WireSnapshot {
            responses: count.responses,
            duplicate_ids: count.duplicate_ids,
            unknown_ids: count.unknown_ids,
            missing_ids: count.missing_ids,
            mixups: self.mixups,
            correlation_violations: count.correlation_violations() + self.mixups,
            late_responses: count.late_responses,
            protocol_violations: count.protocol_violations,
            notifications: count.notifications,
            server_requests: count.server_requests,
            stderr_lines: connection.stderr.total_lines(),
            sessions_expired: count.sessions_expired,
            http_errors: count.http_errors,
            cancellations_sent: count.cancellations_sent,
            in_flight: connection.correlator.in_flight() as u64,
            violation_samples: counters.samples(),
            connections_opened: setups.map_or(0, |s| s.opened),
            connection_setup_p50_ms: setups.map(|s| s.p50_ms),
            connection_setup_p99_ms: setups.map(|s| s.p99_ms),
            connection_setup_max_ms: setups.map(|s| s.max_ms),
            tls_handshakes: setups.map_or(0, |s| s.tls_handshakes),
            tls_resumed: setups.map_or(0, |s| s.tls_resumed),
            http2_connections: setups.map_or(0, |s| s.http2),
            auth_failures: count.auth_failures,
            token_fetches: tokens.map_or(0, |t| t.count),
            token_fetches_failed: tokens.map_or(0, |t| t.failed),
            token_fetch_mean_ms: tokens.map(|t| t.mean_ms),
            token_fetch_max_ms: tokens.map(|t| t.max_ms),
        }
    }

    /// Why a churn phase cannot measure memory kept per session, if it cannot.
    fn churn_unmeasured(&self) -> Option<String> {
        let connection = self.connection.as_ref()?;
        if !connection.transport.sessions_share_a_server() {
            Some(
                "over stdio every session is a server process of its own; \
                 memory kept per session is measured over HTTP"
                    .to_string(),
            )
        } else if connection.pid.is_none() {
            Some(UNMEASURED.to_string())
        } else {
            None
        }
    }

    pub fn snapshot(&mut self, finished: bool) -> Snapshot {
        let now = Instant::now();
        self.roll_windows(now);
        let label_stats = |accs: &[CallAcc], seconds: f64| -> Vec<LabelStats> {
            accs.iter()
                .zip(&self.plan.labels)
                .filter(|(acc, _)| acc.outcomes.total() > 0)
                .map(|(acc, label)| LabelStats {
                    label: label.clone(),
                    stats: acc.stats(seconds, finished),
                })
                .collect()
        };
        // A garbage-collected server's cycle, seen in any churn phase, is as
        // long in the others.
        let cycle = self
            .phases
            .iter()
            .filter_map(|p| p.churn.longest_cycle())
            .reduce(f64::max);
        let phases: Vec<PhaseSnapshot> = self
            .phases
            .iter()
            .map(|p| {
                let seconds = p.seconds(now);
                let state = match (p.started, p.ended) {
                    (None, _) if finished => PhaseState::Skipped,
                    (None, _) => PhaseState::Pending,
                    (Some(_), None) if !finished => PhaseState::Running,
                    _ => PhaseState::Done,
                };
                PhaseSnapshot {
                    name: p.plan.name.clone(),
                    warmup: p.plan.warmup,
                    load: p.plan.load.clone(),
                    state,
                    planned_calls: p.plan.planned_calls,
                    follows_the_dial: p.plan.follows_the_dial,
                    started_s: p.started.map(|at| self.elapsed_s(at)),
                    duration_s: seconds,
                    stats: p.calls.stats(seconds, finished),
                    per_label: label_stats(&p.labels, seconds),
                    late_sends: p.late_sends,
                    max_send_lag_ms: p.max_send_lag_us as f64 / 1000.0,
                    target_per_s: p.plan.target_per_s,
                    // A search's steps so far, held to now; else the plan's ramp.
                    target_ramp: if p.step_rates.is_empty() {
                        p.plan.target_ramp.clone()
                    } else {
                        let mut line = p.step_rates.clone();
                        if let Some(&(_, last)) = line.last() {
                            line.push((seconds, last));
                        }
                        Some(line.into())
                    },
                    churn: (p.churn.sessions > 0).then(|| {
                        let fit = p.churn.retained();
                        let ended_without_figure = state == PhaseState::Done && fit.is_none();
                        let inconclusive = p.churn.inconclusive(cycle, ended_without_figure);
                        // While the phase runs, more sessions may conclude:
                        // no evidence yet, rather than none for good.
                        let (unmeasured, settling) = match self.churn_unmeasured() {
                            Some(why) => (Some(why), None),
                            None if state == PhaseState::Running => {
                                let first_rise = (cycle.is_none()
                                    && seconds < RISE_TAKEN_AS_GROWTH_S)
                                    .then(|| {
                                        Settling::FirstRise {
                                            rising_s: seconds,
                                            needed_s: RISE_TAKEN_AS_GROWTH_S,
                                        }
                                        .to_string()
                                    });
                                (None, inconclusive.or(first_rise))
                            }
                            None => (inconclusive, None),
                        };
                        ChurnSnapshot {
                            sessions: p.churn.sessions,
                            retained_kb_per_session: fit
                                .filter(|_| unmeasured.is_none())
                                .map(|t| t.kb_per_call),
                            retained_kb_low: fit.map(|t| t.kb_per_call_low),
                            retained_kb_high: fit.map(|t| t.kb_per_call_high),
                            collections: fit.map_or(0, |t| t.collections),
                            cycle_sessions: cycle,
                            retained_unmeasured: unmeasured,
                            retained_settling: settling,
                        }
                    }),
                    bad_inputs: (!p.bad_inputs.is_empty()).then(|| {
                        p.bad_inputs
                            .iter()
                            .map(|(input, acc)| acc.tally(*input))
                            .collect()
                    }),
                    memory: self.phase_memory(p.started, p.ended),
                    capacity: p.capacity.clone(),
                    sessions: p.sessions.clone(),
                    stages: p.stages.clone(),
                }
            })
            .collect();
        let busy_seconds: f64 = self.phases.iter().map(|p| p.seconds(now)).sum();
        let mut windows = self.windows.points();
        // The second in progress, so a live view is never a second behind.
        if self.window.calls.outcomes.total() > 0 {
            let partial = now
                .duration_since(self.window.start)
                .as_secs_f64()
                .max(0.001);
            windows.push(self.window.calls.window_point(self.elapsed_s(now), partial));
        }
        let mut snapshot = Snapshot {
            scenario: self.plan.scenario.clone(),
            elapsed_s: self.elapsed_s(now),
            finished,
            server: self.connection.as_ref().map(|c| c.server.clone()),
            endpoint: self.connection.as_ref().and_then(|c| c.endpoint.clone()),
            phases,
            current_phase: self.current_phase,
            total: self.total.stats(busy_seconds, finished),
            per_label: label_stats(&self.labels, busy_seconds),
            windows,
            resources: self.resources(),
            wire: self.wire(),
            coldstart: self.coldstart.snapshot(),
            crashes: self.crashes,
            not_sent: self.not_sent,
            not_sent_why: self.not_sent_why.clone(),
            aborted: self.aborted.clone(),
            interrupted: self.interrupted,
            forced_stops: self.forced_stops,
            abort_after: self.plan.abort_after,
            restarts_at_s: self.restarts_at_s.clone(),
            crashes_at_s: self.crashes_at_s.clone(),
            stalls: self.stalls.clone(),
            stalls_not_listed: self.stalls_not_listed,
            control_changes: self.control_changes.clone(),
            control_changes_not_listed: self.control_changes_not_listed,
            recent_errors: self.recent_errors.iter().cloned().collect(),
            stderr_tail: self
                .connection
                .as_ref()
                .map(|c| c.stderr.last(STDERR_SHOWN))
                .unwrap_or_default(),
            notes: self.notes.clone(),
            criteria: Vec::new(),
        };
        if let Some(trend) = snapshot.resources.rss_trend.as_mut() {
            let baseline_at_s = snapshot.resources.baseline_at_s;
            self.steadiness
                .record(baseline_at_s, snapshot.elapsed_s, trend);
        }
        snapshot.criteria = self.judge.judge(&snapshot, finished);
        self.verdicts
            .record(snapshot.elapsed_s, &mut snapshot.criteria);
        snapshot
    }
}

/// The server's memory over some of the probe's points (calls against the
/// lowest RSS each point saw): its trend, and the floor it stands on at the
/// end of them, in MB.
fn window_memory(window: &[&ProbePoint]) -> (Option<RssTrend>, Option<f64>) {
    // In bytes: a collection is a fall of at least a MB.
    let (times, points): (Vec<f64>, Vec<(f64, f64)>) = window
        .iter()
        .map(|p| (p.t_s, (p.rss_min_calls as f64, p.rss_min_mb * MIB)))
        .unzip();
    let (trend, floor_now) = server_memory(&times, &points);
    (trend, floor_now.map(|bytes| bytes / MIB))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Member, ProbeSample};
    use crate::protocol::Outcome;

    /// Judges nothing: the aggregator's figures are what is tested.
    struct NoCriteria;

    impl Judge for NoCriteria {
        fn judge(&self, _: &Snapshot, _: bool) -> Vec<CriterionStatus> {
            Vec::new()
        }
    }

    fn aggregator() -> Aggregator {
        let phase = |name: &str, warmup| PhasePlan {
            follows_the_dial: true,
            name: name.into(),
            warmup,
            load: "sequential".into(),
            planned_calls: Some(4),
            target_per_s: None,
            target_ramp: None,
        };
        Aggregator::new(
            RunPlan {
                scenario: "unit".into(),
                phases: vec![phase("warmup", true), phase("load", false)],
                labels: vec!["echo".into(), "add".into()],
                abort_after: Some(3),
            },
            Box::new(NoCriteria),
        )
    }

    fn call(phase: usize, label: usize, outcome: Outcome, latency_ms: u64) -> Event {
        Event::Call(CallEvent {
            phase,
            label,
            outcome,
            latency_us: latency_ms * 1000,
            send_lag_us: 0,
            mixup: false,
            message: None,
        })
    }

    fn probe(rss_mb: u64) -> Event {
        let member = Member {
            pid: 42,
            parent: 1,
            name: "server".into(),
            rss_bytes: rss_mb << 20,
            ..Member::default()
        };
        Event::Probe {
            at: Instant::now(),
            sample: ProbeSample {
                rss_bytes: rss_mb << 20,
                processes: 1,
                ..ProbeSample::default()
            },
            members: vec![member],
        }
    }

    #[test]
    fn a_capacity_search_s_steps_are_its_target_line() {
        let mut agg = aggregator();
        let start = Instant::now();
        agg.apply(Event::PhaseStarted {
            phase: 1,
            at: start,
        });
        for (after_s, rate) in [(0.0, 10.0), (2.0, 20.0)] {
            agg.apply(Event::StepRate {
                phase: 1,
                at: start + Duration::from_secs_f64(after_s),
                per_second: rate,
            });
        }
        let snapshot = agg.snapshot(false);
        let phase = &snapshot.phases[1];
        assert_eq!(phase.target_at(1.0), Some(10.0));
        assert_eq!(phase.target_at(1.99), Some(10.0));
        assert_eq!(phase.target_at(2.5), Some(20.0));
        // A phase without a search has no target.
        assert_eq!(snapshot.phases[0].target_at(1.0), None);
    }

    #[test]
    fn calls_are_counted_per_phase_and_label_and_growth_counts_from_the_warm_up() {
        let mut agg = aggregator();
        let now = Instant::now();
        agg.apply(Event::PhaseStarted { phase: 0, at: now });
        agg.apply(probe(10));
        agg.apply(call(0, 0, Outcome::Ok, 2));
        agg.apply(call(0, 1, Outcome::ToolError, 4));
        agg.apply(probe(30));
        agg.apply(Event::PhaseEnded { phase: 0, at: now });
        // The baseline is the last sample before the first measured phase.
        agg.apply(Event::PhaseStarted { phase: 1, at: now });
        for _ in 0..3 {
            agg.apply(call(1, 0, Outcome::Ok, 1));
        }
        agg.apply(call(1, 0, Outcome::Timeout, 30_000));
        agg.apply(probe(45));
        agg.apply(Event::PhaseEnded { phase: 1, at: now });
        let s = agg.snapshot(true);
        assert_eq!(s.total.calls, 6);
        assert_eq!((s.total.outcomes.ok, s.total.outcomes.tool_error), (4, 1));
        assert_eq!(s.total.outcomes.timeout, 1);
        assert_eq!(s.phases[0].stats.calls, 2);
        assert_eq!(s.phases[1].stats.calls, 4);
        assert_eq!(s.phases[1].stats.success_rate, Some(0.75));
        let echo = s
            .per_label
            .iter()
            .find(|l| l.label == "echo")
            .expect("echo");
        assert_eq!(echo.stats.calls, 5);
        assert_eq!(s.resources.rss_baseline_mb, Some(30.0));
        assert_eq!(s.resources.rss_growth_mb, Some(15.0));
        assert_eq!(s.resources.rss_max_mb, Some(45.0));
        assert_eq!(s.resources.processes_max, Some(1));
        assert!(s.phases.iter().all(|p| p.state == PhaseState::Done));
    }

    #[test]
    fn growth_counts_from_the_floor_not_from_a_baseline_on_a_peak() {
        let mut agg = aggregator();
        let now = Instant::now();
        agg.apply(Event::PhaseStarted { phase: 0, at: now });
        // The warm-up ends on a sawtooth's peak; the heap then collects.
        agg.apply(probe(60));
        agg.apply(Event::PhaseStarted { phase: 1, at: now });
        agg.apply(probe(20));
        agg.apply(probe(35));
        let s = agg.snapshot(false);
        assert_eq!(s.resources.rss_baseline_mb, Some(20.0));
        // Rising again after the collection, no longer than the cycle
        // before: garbage, not growth yet (the floor stands at 20).
        assert_eq!(s.resources.rss_growth_mb, Some(0.0));
        // Rising for longer than that: growth, to the latest sample.
        agg.apply(probe(40));
        agg.apply(probe(45));
        let s = agg.snapshot(false);
        assert_eq!(s.resources.rss_growth_mb, Some(25.0));
    }

    #[test]
    fn a_crash_a_restart_and_an_interruption_are_typed_not_guessed_from_notes() {
        let mut agg = aggregator();
        let now = Instant::now();
        agg.apply(Event::PhaseStarted { phase: 0, at: now });
        agg.apply(Event::Crash {
            at: now,
            description: "exit 70".into(),
        });
        agg.apply(Event::Restarted {
            at: now,
            pid: Some(43),
        });
        agg.apply(Event::Interrupted);
        agg.apply(Event::ForcedStop);
        let s = agg.snapshot(true);
        assert_eq!((s.crashes, s.restarts_at_s.len()), (1, 1));
        assert!(s.interrupted);
        assert_eq!(s.forced_stops, 1);
        // The load phase never started: skipped.
        assert_eq!(s.phases[1].state, PhaseState::Skipped);
    }
}
