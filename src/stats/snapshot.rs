//! Snapshots: the immutable picture of a run that the aggregator publishes at a
//! fixed rate. Acceptance, the headless printer, the dashboard and the JSON
//! report all read these and nothing else, so they always agree. The report
//! chooses what it writes of them (`report::schema`); the plain records
//! inside (counts, points, members) it writes as they are.

use std::sync::Arc;

use serde::Serialize;

use super::attribution::NotAttributed;
use super::latency::{LatencyHistogram, LatencySummary};
use super::limits::{CapacityResult, SessionsResult};
use super::series::Mergeable;
use super::trend::{RssTrend, Settling};
pub use super::verdict_history::StateChange;
use crate::protocol::{Outcome, ServerInfo};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct OutcomeCounts {
    pub ok: u64,
    pub jsonrpc_error: u64,
    pub tool_error: u64,
    pub timeout: u64,
    pub transport_error: u64,
    pub protocol_error: u64,
}

impl OutcomeCounts {
    pub fn add(&mut self, outcome: Outcome) {
        *self.get_mut(outcome) += 1;
    }

    fn get_mut(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Ok => &mut self.ok,
            Outcome::RpcError => &mut self.jsonrpc_error,
            Outcome::ToolError => &mut self.tool_error,
            Outcome::Timeout => &mut self.timeout,
            Outcome::TransportError => &mut self.transport_error,
            Outcome::ProtocolError => &mut self.protocol_error,
        }
    }

    pub fn get(&self, outcome: Outcome) -> u64 {
        let mut copy = *self;
        *copy.get_mut(outcome)
    }

    pub fn total(&self) -> u64 {
        Outcome::ALL.iter().map(|&o| self.get(o)).sum()
    }

    pub fn errors(&self) -> u64 {
        self.total() - self.ok
    }

    /// Fraction of calls that succeeded; `None` before the first call.
    pub fn success_rate(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| self.ok as f64 / total as f64)
    }
}

/// Calls of one phase, one label, or the whole run.
#[derive(Debug, Clone, Default)]
pub struct CallStats {
    pub calls: u64,
    pub outcomes: OutcomeCounts,
    pub success_rate: Option<f64>,
    pub latency: Option<LatencySummary>,
    /// Calls per second over the time the calls took.
    pub throughput_per_s: f64,
    /// The latency histogram's recorded buckets (`LatencyHistogram::recorded_us`),
    /// in the final snapshot only: what `mcpstorm compare` tests two runs on.
    pub latency_histogram_us: Option<Arc<Vec<[u64; 2]>>>,
    /// The same histogram in HdrHistogram's V2 compressed encoding, base64
    /// (final snapshot only): what `mcpstorm merge` adds segments with.
    pub latency_hdr_v2: Option<Arc<str>>,
}

#[derive(Debug, Clone)]
pub struct LabelStats {
    pub label: String,
    pub stats: CallStats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseState {
    Pending,
    Running,
    Done,
    Skipped,
}

#[derive(Debug, Clone)]
pub struct PhaseSnapshot {
    pub name: String,
    pub warmup: bool,
    pub load: String,
    pub state: PhaseState,
    /// Calls (or iterations) the phase will make, when known in advance.
    pub planned_calls: Option<u64>,
    /// Whether the load dial changes it (a sequential phase's one worker
    /// stays one).
    pub follows_the_dial: bool,
    /// When it started, on the run clock (the charts mark it).
    pub started_s: Option<f64>,
    pub duration_s: f64,
    pub stats: CallStats,
    pub per_label: Vec<LabelStats>,
    /// Open model: sends that left later than scheduled (by more than 2 ms).
    pub late_sends: u64,
    pub max_send_lag_ms: f64,
    /// An open model's arrival rate, calls/s, before the load dial (a
    /// ramp's highest).
    pub target_per_s: Option<f64>,
    /// A ramp's rate over the phase: `(seconds since its start, calls/s)`,
    /// linear between.
    pub target_ramp: Option<Arc<[(f64, f64)]>>,
    /// Churn phases only.
    pub churn: Option<ChurnSnapshot>,
    /// Robustness phases only: per bad input, what the server did.
    pub bad_inputs: Option<Vec<BadInputTally>>,
    /// Capacity phases only: the search so far, from its first step's end.
    pub capacity: Option<CapacityResult>,
    /// Sessions as users only: the sessions held, from the first window's
    /// end.
    pub sessions: Option<SessionsResult>,
    /// A ramp of rates (`ramping_rate`): each stage's sends, once it ended.
    pub stages: Option<Vec<StageSends>>,
    /// The server's memory over this phase alone, once sampled in it.
    pub memory: Option<PhaseMemory>,
}

impl PhaseSnapshot {
    /// A finished phase known by its calls alone (what a merged report's
    /// criteria, or a test's, are judged on).
    pub fn of_calls(name: &str, stats: CallStats) -> PhaseSnapshot {
        PhaseSnapshot {
            name: name.to_string(),
            warmup: false,
            load: String::new(),
            state: PhaseState::Done,
            planned_calls: None,
            follows_the_dial: false,
            started_s: None,
            duration_s: 0.0,
            stats,
            per_label: Vec::new(),
            late_sends: 0,
            max_send_lag_ms: 0.0,
            target_per_s: None,
            target_ramp: None,
            churn: None,
            bad_inputs: None,
            capacity: None,
            sessions: None,
            stages: None,
            memory: None,
        }
    }

    /// The rate the phase set out to send `since_start_s` into it: a ramp's
    /// there (its first rate before it, its last after), else its fixed
    /// rate; `None` for a closed model.
    pub fn target_at(&self, since_start_s: f64) -> Option<f64> {
        let Some(points) = &self.target_ramp else {
            return self.target_per_s;
        };
        let (first, last) = (points.first()?, points.last()?);
        if since_start_s <= first.0 {
            return Some(first.1);
        }
        Some(
            points
                .windows(2)
                .find(|pair| since_start_s <= pair[1].0)
                .map_or(last.1, |pair| {
                    let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
                    let span = t1 - t0;
                    if span > 0.0 {
                        r0 + (r1 - r0) * (since_start_s - t0) / span
                    } else {
                        r1
                    }
                }),
        )
    }
}

/// The server's memory over one phase: the phase's own growth and trend, so
/// a leak that only one phase's calls cause is seen there at full strength.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseMemory {
    /// RSS at the phase's last sample minus the lowest sample of the phase.
    pub rss_growth_mb: f64,
    /// The floor fit over the phase's samples (`None` with too few).
    pub rss_trend: Option<RssTrend>,
}

/// How one stage of a ramp of rates went out: its sends against its
/// schedule (the open model counts latency from the due time; this says how
/// far behind mcpstorm sent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageSends {
    pub from_per_s: f64,
    pub to_per_s: f64,
    pub duration_s: f64,
    /// Calls sent in the stage.
    pub sent: u64,
    /// Sends more than 2 ms behind schedule.
    pub late_sends: u64,
    /// How far behind schedule sends left: the most, and on average.
    pub max_send_lag_ms: f64,
    pub mean_send_lag_ms: f64,
}

/// What the server did with one kind of bad input, over a robustness phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadInputTally {
    pub input: String,
    /// What a robust server answers.
    pub expected: String,
    pub sent: u64,
    pub as_expected: u64,
    /// Each distinct answer and how often it came.
    pub answers: Vec<(String, u64)>,
}

impl BadInputTally {
    pub fn mishandled(&self) -> u64 {
        self.sent - self.as_expected
    }
}

/// What a churn phase found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChurnSnapshot {
    /// Sessions opened and ended.
    pub sessions: u64,
    /// Server memory kept per session ended: the slope of the RSS floor over
    /// sessions (KB = 1024 bytes). `None` until enough sessions ended, and
    /// over stdio, where every session is a server process of its own.
    pub retained_kb_per_session: Option<f64>,
    /// Its 95 % confidence interval.
    pub retained_kb_low: Option<f64>,
    pub retained_kb_high: Option<f64>,
    /// Collections (falls of RSS) in the sessions fitted, and the longest
    /// cycle between two in any churn phase of the run, in sessions.
    pub collections: usize,
    pub cycle_sessions: Option<f64>,
    /// Why the retained memory cannot be measured, or the fit cannot
    /// conclude, when that is so (the criterion is then N/A).
    pub retained_unmeasured: Option<String>,
    /// Why the figure is no evidence yet while the phase runs (a
    /// garbage-collected heap's first rise, or fewer cycles fitted than it
    /// takes): its criteria are SETTLING. Never set once the phase is done
    /// (the reason is then `retained_unmeasured`, if it still holds).
    #[serde(skip)]
    pub retained_settling: Option<String>,
}

/// One point of the latency time line (one second, or several merged).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WindowPoint {
    /// End of the window on the run clock.
    pub t_s: f64,
    /// How long the window lasted.
    pub span_s: f64,
    pub calls: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub calls_per_s: f64,
    /// The window's latency histogram (`LatencyHistogram::recorded_us`):
    /// what merged windows' percentiles are read from, and the report's
    /// `latency_hdr_v2` of the window. `None` without calls.
    #[serde(skip)]
    pub latency_us: Option<Arc<[[u64; 2]]>>,
}

impl WindowPoint {
    /// The point of calls whose histogram is `buckets`, percentiles read
    /// from it.
    pub fn of(t_s: f64, span_s: f64, errors: u64, buckets: Vec<[u64; 2]>) -> WindowPoint {
        let histogram = LatencyHistogram::from_recorded(&buckets);
        WindowPoint::with_histogram(t_s, span_s, errors, &histogram, buckets)
    }

    /// The point of calls whose histogram is `histogram`, its recorded
    /// buckets `buckets` (read once by the caller that has them).
    pub fn with_histogram(
        t_s: f64,
        span_s: f64,
        errors: u64,
        histogram: &LatencyHistogram,
        buckets: Vec<[u64; 2]>,
    ) -> WindowPoint {
        let calls: u64 = buckets.iter().map(|b| b[1]).sum();
        let [p50_ms, p95_ms, p99_ms, max_ms] = if calls == 0 {
            [0.0; 4]
        } else {
            histogram.quantiles_ms([0.5, 0.95, 0.99, 1.0])
        };
        WindowPoint {
            t_s,
            span_s,
            calls,
            errors,
            p50_ms,
            p95_ms,
            p99_ms,
            max_ms,
            calls_per_s: if span_s > 0.0 {
                calls as f64 / span_s
            } else {
                0.0
            },
            latency_us: (calls > 0).then(|| Arc::from(buckets)),
        }
    }
}

impl Mergeable for WindowPoint {
    /// Merged windows' percentiles are those of the sum of their
    /// histograms: exact, however long the run.
    fn merge(&mut self, later: &Self) {
        let empty: &[[u64; 2]] = &[];
        let buckets = crate::stats::latency::add_recorded(
            self.latency_us.as_deref().unwrap_or(empty),
            later.latency_us.as_deref().unwrap_or(empty),
        );
        *self = WindowPoint::of(
            later.t_s,
            self.span_s + later.span_s,
            self.errors + later.errors,
            buckets,
        );
    }
}

/// One point of the probe time line (one sample, or several merged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProbePoint {
    pub t_s: f64,
    pub calls_done: u64,
    pub rss_mb: f64,
    pub rss_min_mb: f64,
    /// Calls completed when `rss_min_mb` was seen.
    pub rss_min_calls: u64,
    pub rss_max_mb: f64,
    pub fds: u32,
    pub fds_max: u32,
    pub threads: u32,
    pub processes: u32,
    pub cpu_percent: f64,
    pub self_rss_mb: f64,
    pub self_cpu_percent: f64,
}

impl Mergeable for ProbePoint {
    /// The later sample's current values, with the extremes of both.
    fn merge(&mut self, later: &Self) {
        let lowest = if later.rss_min_mb < self.rss_min_mb {
            *later
        } else {
            *self
        };
        *self = ProbePoint {
            rss_min_mb: lowest.rss_min_mb,
            rss_min_calls: lowest.rss_min_calls,
            rss_max_mb: self.rss_max_mb.max(later.rss_max_mb),
            fds_max: self.fds_max.max(later.fds_max),
            ..*later
        };
    }
}

/// What one tool (or method) keeps per call of a resource (memory in KB,
/// file descriptors): a slope of its floor, with the 95 % interval.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelPerCall {
    pub label: String,
    pub per_call: f64,
    pub low: f64,
    pub high: f64,
    /// Narrow enough to name the label as keeping the resource or clear it
    /// (`stats::attribution`): a wider figure is shown as its range.
    pub resolved: bool,
}

/// A resource's figures per label as criteria and outputs read them: the
/// figures, why there are none, and why they are not evidence yet.
#[derive(Debug, Clone, Copy)]
pub struct Attribution<'a> {
    pub figures: &'a [LabelPerCall],
    pub withheld: Option<&'a NotAttributed>,
    /// The memory's floor is not known yet (the trend's reason: the troughs
    /// are the same evidence); `None` for descriptors, which do not saw.
    pub settling: Option<Settling>,
}

impl ResourceSnapshot {
    /// Memory kept per call of each label.
    pub fn retained_attribution(&self) -> Attribution<'_> {
        Attribution {
            figures: &self.retained_by_label,
            withheld: self.retained_by_label_unmeasured.as_ref(),
            settling: self.rss_trend.and_then(|t| t.settling),
        }
    }

    /// File descriptors kept per call of each label.
    pub fn fds_attribution(&self) -> Attribution<'_> {
        Attribution {
            figures: &self.fds_by_label,
            withheld: self.fds_by_label_unmeasured.as_ref(),
            settling: None,
        }
    }
}

/// Pause and load as a person set them, from `at_s` on the run clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ControlChange {
    pub at_s: f64,
    pub paused: bool,
    /// Load relative to the scenario's (1.0 as written).
    pub load_scale: f64,
}

impl ControlChange {
    /// What changed, in words, given the state before.
    pub fn describe(&self, before: Option<&ControlChange>) -> String {
        let was_paused = before.is_some_and(|b| b.paused);
        let was_scale = before.map_or(1.0, |b| b.load_scale);
        if self.paused != was_paused {
            if self.paused { "paused" } else { "resumed" }.to_string()
        } else if self.load_scale != was_scale {
            format!("load ×{:.2}", self.load_scale)
        } else {
            "no change".to_string()
        }
    }
}

/// One process of the server's tree at the last sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TreeMember {
    pub pid: u32,
    pub parent: u32,
    pub name: String,
    /// How deep in the tree: 0 for the process mcpstorm started.
    pub depth: u32,
    pub rss_mb: f64,
    /// This process's part of the tree's RSS (0..1).
    pub rss_share: f64,
    /// Its proportional set size (shared pages divided among their sharers).
    pub pss_mb: Option<f64>,
    /// Growth since the baseline, or since it appeared after the baseline.
    pub rss_growth_mb: Option<f64>,
    pub pss_growth_mb: Option<f64>,
    /// Its own RSS trend since the baseline (the floor fit), KB per call.
    pub rss_trend_kb_per_call: Option<f64>,
    pub fds: u32,
    pub threads: u32,
    pub cpu_percent: f64,
    /// Its command line, secrets redacted (`probe::command_line`).
    pub command: Option<std::sync::Arc<str>>,
}

#[derive(Debug, Clone, Default)]
pub struct ResourceSnapshot {
    /// False when nothing could be sampled (no process to watch yet, or none at all).
    pub sampled: bool,
    /// Why server-side figures are not measured at all (an HTTP server whose
    /// process mcpstorm does not know).
    pub unmeasured: Option<String>,
    pub pid: Option<u32>,
    pub samples: u64,
    pub rss_start_mb: Option<f64>,
    /// RSS after warm-up (or at start, without a warm-up phase): growth counts from here.
    pub rss_baseline_mb: Option<f64>,
    pub rss_current_mb: Option<f64>,
    pub rss_max_mb: Option<f64>,
    pub rss_growth_mb: Option<f64>,
    pub rss_trend: Option<RssTrend>,
    /// The retained floor attributed to each label called since the
    /// baseline (`stats::attribution`); empty with the reason in
    /// `retained_by_label_unmeasured` when it cannot be told apart.
    pub retained_by_label: Vec<LabelPerCall>,
    pub retained_by_label_unmeasured: Option<NotAttributed>,
    /// The same for open file descriptors, FDs per call.
    pub fds_by_label: Vec<LabelPerCall>,
    pub fds_by_label_unmeasured: Option<NotAttributed>,
    /// When the baseline was taken, on the run clock: the trend's floor is
    /// drawn from there.
    pub baseline_at_s: Option<f64>,
    /// PSS summed over the tree: a forked child's pages shared with its
    /// parent count once, where RSS counts them in each. `None` where
    /// smaps_rollup cannot be read.
    pub pss_start_mb: Option<f64>,
    pub pss_baseline_mb: Option<f64>,
    pub pss_current_mb: Option<f64>,
    pub pss_max_mb: Option<f64>,
    pub pss_growth_mb: Option<f64>,
    pub fds_start: Option<u32>,
    pub fds_baseline: Option<u32>,
    pub fds_current: Option<u32>,
    pub fds_max: Option<u32>,
    pub threads_current: Option<u32>,
    pub threads_max: Option<u32>,
    pub processes: Option<u32>,
    pub processes_max: Option<u32>,
    /// Processes that came or went during the run, if any did.
    pub tree_changes: Option<super::TreeChanges>,
    pub cpu_percent: Option<f64>,
    pub cpu_max_percent: Option<f64>,
    pub self_rss_mb: Option<f64>,
    pub self_rss_max_mb: Option<f64>,
    pub self_cpu_percent: Option<f64>,
    /// The tree at the last sample, parents before their children.
    pub members: Vec<TreeMember>,
    pub series: Vec<ProbePoint>,
}

#[derive(Debug, Clone, Default)]
pub struct WireSnapshot {
    pub responses: u64,
    pub duplicate_ids: u64,
    pub unknown_ids: u64,
    pub missing_ids: u64,
    /// Responses whose id matched but whose content belonged to another request.
    pub mixups: u64,
    /// duplicate + unknown + missing ids + mix-ups.
    pub correlation_violations: u64,
    pub late_responses: u64,
    pub protocol_violations: u64,
    pub notifications: u64,
    pub server_requests: u64,
    pub stderr_lines: u64,
    /// HTTP: requests answered 404 because the server dropped the session.
    pub sessions_expired: u64,
    /// HTTP: non-2xx answers without a JSON-RPC response.
    pub http_errors: u64,
    /// `notifications/cancelled` sent for calls that timed out (over stdio,
    /// and over HTTP in the handshake era; a stateless HTTP call is
    /// cancelled by closing its connection).
    pub cancellations_sent: u64,
    pub in_flight: u64,
    pub violation_samples: Vec<String>,
    /// HTTP: connections opened, and how long they took (TCP connect, TLS
    /// and HTTP handshakes): not counted in any call's latency.
    pub connections_opened: u64,
    pub connection_setup_p50_ms: Option<f64>,
    pub connection_setup_p99_ms: Option<f64>,
    pub connection_setup_max_ms: Option<f64>,
    /// Over TLS: handshakes, and those that resumed a session.
    pub tls_handshakes: u64,
    pub tls_resumed: u64,
    /// Connections that speak HTTP/2 (`--http2`); the others speak HTTP/1.1.
    pub http2_connections: u64,
    /// HTTP: requests refused for their credentials (401, or 403 with a
    /// challenge): auth failures, not server errors.
    pub auth_failures: u64,
    /// OAuth token requests (not calls): how many, how many got no token,
    /// and their mean and longest times.
    pub token_fetches: u64,
    pub token_fetches_failed: u64,
    pub token_fetch_mean_ms: Option<f64>,
    pub token_fetch_max_ms: Option<f64>,
}

/// A time mcpstorm itself did not run (`engine::stall_watch`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stall {
    pub at_s: f64,
    pub lasted_s: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageMeans {
    pub spawn_ms: f64,
    pub initialize_ms: f64,
    pub first_call_ms: f64,
    pub exit_ms: f64,
}

#[derive(Debug, Clone, Default)]
pub struct ColdStartSnapshot {
    pub iterations: u64,
    pub failed: u64,
    /// Spawn → initialized → one call answered (exit not included).
    pub mean_ms: f64,
    /// Population standard deviation of that time over successful iterations.
    pub stddev_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// max − min.
    pub range_ms: f64,
    pub stage_means: StageMeans,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub scenario: String,
    pub elapsed_s: f64,
    pub finished: bool,
    pub server: Option<ServerInfo>,
    /// Over HTTP, the URL the calls went to (its query, which may carry a
    /// token, shown as `?…`).
    pub endpoint: Option<String>,
    pub phases: Vec<PhaseSnapshot>,
    /// The phase running now (or the last one run).
    pub current_phase: Option<usize>,
    pub total: CallStats,
    pub per_label: Vec<LabelStats>,
    pub windows: Vec<WindowPoint>,
    pub resources: ResourceSnapshot,
    pub wire: WireSnapshot,
    pub coldstart: Option<ColdStartSnapshot>,
    pub crashes: u64,
    /// Calls mcpstorm could not send (its own file-descriptor limit), and
    /// why the first could not: not counted as calls, and not failures of the server.
    pub not_sent: u64,
    pub not_sent_why: Option<String>,
    /// Why the abort rule stopped the load, if it did.
    pub aborted: Option<String>,
    /// Stopped by the person (or a signal) before its end.
    pub interrupted: bool,
    /// Servers that did not exit when asked and had to be killed.
    pub forced_stops: u64,
    /// The abort rule: calls in a row without an answer that stop the load.
    pub abort_after: Option<u64>,
    /// When the server was started again after a crash (on_crash =
    /// "restart"), on the run clock in seconds.
    pub restarts_at_s: Vec<f64>,
    /// When the server exited while the run needed it, on the run clock.
    pub crashes_at_s: Vec<f64>,
    /// When mcpstorm itself did not run (the first 1,000), and how many
    /// more times: latency over these spans is not the server's alone.
    pub stalls: Vec<Stall>,
    pub stalls_not_listed: u64,
    /// Each pause, resume and turn of the load dial, in order (the first
    /// 1,000), and how many more there were.
    pub control_changes: Vec<ControlChange>,
    pub control_changes_not_listed: u64,
    pub recent_errors: Vec<String>,
    pub stderr_tail: Vec<String>,
    pub notes: Vec<String>,
    pub criteria: Vec<CriterionStatus>,
}

impl Snapshot {
    /// Sends an open model made late over the run, and the worst lag in ms.
    pub fn sends_late(&self) -> (u64, f64) {
        let late = self.phases.iter().map(|p| p.late_sends).sum();
        let worst = self
            .phases
            .iter()
            .map(|p| p.max_send_lag_ms)
            .fold(0.0, f64::max);
        (late, worst)
    }

    pub fn phase_index(&self, name: &str) -> Option<usize> {
        self.phases.iter().position(|p| p.name == name)
    }
}

/// How far a criterion has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CriterionState {
    Pending,
    /// A figure with too little evidence behind it yet to pass or fail: a
    /// memory trend before its floor is known, or an interval that spans
    /// the limit. Live only.
    Settling,
    Passing,
    Failing,
    Pass,
    Fail,
    /// Cannot be measured in this run (the server's process is not known)
    /// or cannot be concluded from it (a churn fit within a collection cycle).
    NotMeasured,
}

impl CriterionState {
    pub fn word(self) -> &'static str {
        match self {
            CriterionState::Pending => "PENDING",
            CriterionState::Settling => "SETTLING",
            CriterionState::Passing => "PASSING",
            CriterionState::Failing => "FAILING",
            CriterionState::Pass => "PASS",
            CriterionState::Fail => "FAIL",
            CriterionState::NotMeasured => "N/A",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(self, CriterionState::Failing | CriterionState::Fail)
    }
}

#[derive(Debug, Clone)]
pub struct CriterionStatus {
    pub expression: String,
    pub state: CriterionState,
    /// The left-hand side's value, and the right-hand side it is compared with.
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// Each metric's current value, for the reader: `p95(load) = 0.210 ms`.
    pub detail: String,
    /// The scenario's words on why the criterion matters, if it gave any.
    pub about: Option<String>,
    /// The metric whose upper limit `threshold` is, when the criterion
    /// reads `metric <= …` in any scope (for the dashboard's limit lines;
    /// not in the report).
    pub caps: Option<String>,
    /// When its state changed during the run (the first 100 changes), and
    /// how many more changes there were.
    pub changes: Vec<StateChange>,
    pub changes_not_listed: u64,
}

/// What judges a snapshot: the scenario's acceptance criteria.
pub trait Judge: Send {
    fn judge(&self, snapshot: &Snapshot, finished: bool) -> Vec<CriterionStatus>;
}
