//! The JSON report's `result` object, schema version 1 (docs/REPORT.md):
//! what a scenario measured, as the report promises it. It is read from the
//! final snapshot field by field, so a figure the aggregator keeps for the
//! dashboard reaches the report only when it is named here (and documented:
//! `tests/report_schema.rs`). The records inside (outcome counts, latency
//! summaries, time-line points, tree members, trends) are plain data and
//! are written as the stats layer defines them.

use serde::Serialize;

use crate::protocol::ServerInfo;
use crate::stats::{
    BadInputTally, CallStats, CapacityResult, ChurnSnapshot, ColdStartSnapshot, ControlChange,
    CriterionState, CriterionStatus, LabelPerCall, LabelStats, LatencyHistogram, LatencySummary,
    OutcomeCounts, PhaseMemory, PhaseSnapshot, PhaseState, ProbePoint, ResourceSnapshot, RssTrend,
    SessionsResult, Snapshot, StageMeans, StageSends, Stall, StateChange, TreeChanges, TreeMember,
    WindowPoint, WireSnapshot,
};

/// `result`.
#[derive(Serialize)]
pub struct Measured<'a> {
    scenario: &'a str,
    elapsed_s: f64,
    finished: bool,
    server: Option<&'a ServerInfo>,
    endpoint: Option<&'a str>,
    phases: Vec<Phase<'a>>,
    current_phase: Option<usize>,
    total: Calls<'a>,
    per_label: Vec<Label<'a>>,
    windows: Vec<Window<'a>>,
    resources: Resources<'a>,
    wire: Wire<'a>,
    coldstart: Option<ColdStart<'a>>,
    crashes: u64,
    not_sent: u64,
    not_sent_why: Option<&'a str>,
    aborted: Option<&'a str>,
    interrupted: bool,
    forced_stops: u64,
    abort_after: Option<u64>,
    restarts_at_s: &'a [f64],
    crashes_at_s: &'a [f64],
    stalls: &'a [Stall],
    stalls_not_listed: u64,
    control_changes: &'a [ControlChange],
    control_changes_not_listed: u64,
    recent_errors: &'a [String],
    stderr_tail: &'a [String],
    notes: &'a [String],
    criteria: Vec<Criterion<'a>>,
}

impl<'a> From<&'a Snapshot> for Measured<'a> {
    fn from(s: &'a Snapshot) -> Self {
        Measured {
            scenario: &s.scenario,
            elapsed_s: s.elapsed_s,
            finished: s.finished,
            server: s.server.as_ref(),
            endpoint: s.endpoint.as_deref(),
            phases: s.phases.iter().map(Phase::from).collect(),
            current_phase: s.current_phase,
            total: Calls::from(&s.total),
            per_label: s.per_label.iter().map(Label::from).collect(),
            windows: s.windows.iter().map(Window::from).collect(),
            resources: Resources::from(&s.resources),
            wire: Wire::from(&s.wire),
            coldstart: s.coldstart.as_ref().map(ColdStart::from),
            crashes: s.crashes,
            not_sent: s.not_sent,
            not_sent_why: s.not_sent_why.as_deref(),
            aborted: s.aborted.as_deref(),
            interrupted: s.interrupted,
            forced_stops: s.forced_stops,
            abort_after: s.abort_after,
            restarts_at_s: &s.restarts_at_s,
            crashes_at_s: &s.crashes_at_s,
            stalls: &s.stalls,
            stalls_not_listed: s.stalls_not_listed,
            control_changes: &s.control_changes,
            control_changes_not_listed: s.control_changes_not_listed,
            recent_errors: &s.recent_errors,
            stderr_tail: &s.stderr_tail,
            notes: &s.notes,
            criteria: s.criteria.iter().map(Criterion::from).collect(),
        }
    }
}

/// One point of the latency time line, with its histogram encoded.
#[derive(Serialize)]
struct Window<'a> {
    #[serde(flatten)]
    point: &'a WindowPoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_hdr_v2: Option<String>,
}

impl<'a> From<&'a WindowPoint> for Window<'a> {
    fn from(point: &'a WindowPoint) -> Self {
        Window {
            point,
            latency_hdr_v2: point
                .latency_us
                .as_deref()
                .map(|buckets| LatencyHistogram::from_recorded(buckets).to_v2_base64()),
        }
    }
}

/// The call figures of the run, a phase or a label.
#[derive(Serialize)]
struct Calls<'a> {
    calls: u64,
    outcomes: &'a OutcomeCounts,
    success_rate: Option<f64>,
    latency: Option<&'a LatencySummary>,
    throughput_per_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_histogram_us: Option<&'a [[u64; 2]]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_hdr_v2: Option<&'a str>,
}

impl<'a> From<&'a CallStats> for Calls<'a> {
    fn from(c: &'a CallStats) -> Self {
        Calls {
            calls: c.calls,
            outcomes: &c.outcomes,
            success_rate: c.success_rate,
            latency: c.latency.as_ref(),
            throughput_per_s: c.throughput_per_s,
            latency_histogram_us: c.latency_histogram_us.as_deref().map(Vec::as_slice),
            latency_hdr_v2: c.latency_hdr_v2.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct Label<'a> {
    label: &'a str,
    #[serde(flatten)]
    calls: Calls<'a>,
}

impl<'a> From<&'a LabelStats> for Label<'a> {
    fn from(l: &'a LabelStats) -> Self {
        Label {
            label: &l.label,
            calls: Calls::from(&l.stats),
        }
    }
}

#[derive(Serialize)]
struct Phase<'a> {
    name: &'a str,
    warmup: bool,
    load: &'a str,
    state: PhaseState,
    planned_calls: Option<u64>,
    duration_s: f64,
    #[serde(flatten)]
    calls: Calls<'a>,
    per_label: Vec<Label<'a>>,
    target_per_s: Option<f64>,
    late_sends: u64,
    max_send_lag_ms: f64,
    churn: Option<&'a ChurnSnapshot>,
    bad_inputs: Option<&'a [BadInputTally]>,
    memory: Option<PhaseMemoryOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity: Option<&'a CapacityResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<&'a SessionsResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stages: Option<&'a [StageSends]>,
}

/// A phase's own memory figures.
#[derive(Serialize)]
struct PhaseMemoryOut<'a> {
    rss_growth_mb: f64,
    rss_trend: Option<&'a RssTrend>,
    rss_trend_settling: Option<String>,
}

impl<'a> From<&'a PhaseMemory> for PhaseMemoryOut<'a> {
    fn from(m: &'a PhaseMemory) -> Self {
        PhaseMemoryOut {
            rss_growth_mb: m.rss_growth_mb,
            rss_trend: m.rss_trend.as_ref(),
            rss_trend_settling: settling(&m.rss_trend),
        }
    }
}

/// Why a trend is not settled yet, in words.
fn settling(trend: &Option<RssTrend>) -> Option<String> {
    trend.and_then(|t| t.settling).map(|s| s.to_string())
}

impl<'a> From<&'a PhaseSnapshot> for Phase<'a> {
    fn from(p: &'a PhaseSnapshot) -> Self {
        Phase {
            name: &p.name,
            warmup: p.warmup,
            load: &p.load,
            state: p.state,
            planned_calls: p.planned_calls,
            duration_s: p.duration_s,
            calls: Calls::from(&p.stats),
            per_label: p.per_label.iter().map(Label::from).collect(),
            target_per_s: p.target_per_s,
            late_sends: p.late_sends,
            max_send_lag_ms: p.max_send_lag_ms,
            churn: p.churn.as_ref(),
            bad_inputs: p.bad_inputs.as_deref(),
            memory: p.memory.as_ref().map(PhaseMemoryOut::from),
            capacity: p.capacity.as_ref(),
            sessions: p.sessions.as_ref(),
            stages: p.stages.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct Resources<'a> {
    sampled: bool,
    unmeasured: Option<&'a str>,
    pid: Option<u32>,
    samples: u64,
    rss_start_mb: Option<f64>,
    rss_baseline_mb: Option<f64>,
    rss_current_mb: Option<f64>,
    rss_max_mb: Option<f64>,
    rss_growth_mb: Option<f64>,
    rss_trend: Option<&'a RssTrend>,
    rss_trend_settling: Option<String>,
    retained_by_label: Vec<KbPerCall<'a>>,
    retained_by_label_unmeasured: Option<String>,
    fds_by_label: Vec<FdsPerCall<'a>>,
    fds_by_label_unmeasured: Option<String>,
    pss_start_mb: Option<f64>,
    pss_baseline_mb: Option<f64>,
    pss_current_mb: Option<f64>,
    pss_max_mb: Option<f64>,
    pss_growth_mb: Option<f64>,
    fds_start: Option<u32>,
    fds_baseline: Option<u32>,
    fds_current: Option<u32>,
    fds_max: Option<u32>,
    threads_current: Option<u32>,
    threads_max: Option<u32>,
    processes: Option<u32>,
    processes_max: Option<u32>,
    tree_changes: Option<&'a TreeChanges>,
    cpu_percent: Option<f64>,
    cpu_max_percent: Option<f64>,
    self_rss_mb: Option<f64>,
    self_rss_max_mb: Option<f64>,
    self_cpu_percent: Option<f64>,
    members: &'a [TreeMember],
    series: &'a [ProbePoint],
}

impl<'a> From<&'a ResourceSnapshot> for Resources<'a> {
    fn from(r: &'a ResourceSnapshot) -> Self {
        Resources {
            sampled: r.sampled,
            unmeasured: r.unmeasured.as_deref(),
            pid: r.pid,
            samples: r.samples,
            rss_start_mb: r.rss_start_mb,
            rss_baseline_mb: r.rss_baseline_mb,
            rss_current_mb: r.rss_current_mb,
            rss_max_mb: r.rss_max_mb,
            rss_growth_mb: r.rss_growth_mb,
            rss_trend: r.rss_trend.as_ref(),
            rss_trend_settling: settling(&r.rss_trend),
            retained_by_label: r.retained_by_label.iter().map(KbPerCall::from).collect(),
            retained_by_label_unmeasured: r
                .retained_by_label_unmeasured
                .as_ref()
                .map(|e| e.to_string()),
            fds_by_label: r.fds_by_label.iter().map(FdsPerCall::from).collect(),
            fds_by_label_unmeasured: r.fds_by_label_unmeasured.as_ref().map(|e| e.to_string()),
            pss_start_mb: r.pss_start_mb,
            pss_baseline_mb: r.pss_baseline_mb,
            pss_current_mb: r.pss_current_mb,
            pss_max_mb: r.pss_max_mb,
            pss_growth_mb: r.pss_growth_mb,
            fds_start: r.fds_start,
            fds_baseline: r.fds_baseline,
            fds_current: r.fds_current,
            fds_max: r.fds_max,
            threads_current: r.threads_current,
            threads_max: r.threads_max,
            processes: r.processes,
            processes_max: r.processes_max,
            tree_changes: r.tree_changes.as_ref(),
            cpu_percent: r.cpu_percent,
            cpu_max_percent: r.cpu_max_percent,
            self_rss_mb: r.self_rss_mb,
            self_rss_max_mb: r.self_rss_max_mb,
            self_cpu_percent: r.self_cpu_percent,
            members: &r.members,
            series: &r.series,
        }
    }
}

/// Memory one tool keeps per call.
#[derive(Serialize)]
struct KbPerCall<'a> {
    label: &'a str,
    kb_per_call: f64,
    kb_per_call_low: f64,
    kb_per_call_high: f64,
    resolved: bool,
}

impl<'a> From<&'a LabelPerCall> for KbPerCall<'a> {
    fn from(l: &'a LabelPerCall) -> Self {
        KbPerCall {
            label: &l.label,
            kb_per_call: l.per_call,
            kb_per_call_low: l.low,
            kb_per_call_high: l.high,
            resolved: l.resolved,
        }
    }
}

/// File descriptors one tool keeps open per call.
#[derive(Serialize)]
struct FdsPerCall<'a> {
    label: &'a str,
    fds_per_call: f64,
    fds_per_call_low: f64,
    fds_per_call_high: f64,
    resolved: bool,
}

impl<'a> From<&'a LabelPerCall> for FdsPerCall<'a> {
    fn from(l: &'a LabelPerCall) -> Self {
        FdsPerCall {
            label: &l.label,
            fds_per_call: l.per_call,
            fds_per_call_low: l.low,
            fds_per_call_high: l.high,
            resolved: l.resolved,
        }
    }
}

#[derive(Serialize)]
struct Wire<'a> {
    responses: u64,
    duplicate_ids: u64,
    unknown_ids: u64,
    missing_ids: u64,
    mixups: u64,
    correlation_violations: u64,
    late_responses: u64,
    protocol_violations: u64,
    notifications: u64,
    server_requests: u64,
    stderr_lines: u64,
    sessions_expired: u64,
    http_errors: u64,
    cancellations_sent: u64,
    in_flight: u64,
    violation_samples: &'a [String],
    connections_opened: u64,
    connection_setup_p50_ms: Option<f64>,
    connection_setup_p99_ms: Option<f64>,
    connection_setup_max_ms: Option<f64>,
    tls_handshakes: u64,
    tls_resumed: u64,
    http2_connections: u64,
    auth_failures: u64,
    token_fetches: u64,
    token_fetches_failed: u64,
    token_fetch_mean_ms: Option<f64>,
    token_fetch_max_ms: Option<f64>,
}

impl<'a> From<&'a WireSnapshot> for Wire<'a> {
    fn from(w: &'a WireSnapshot) -> Self {
        Wire {
            responses: w.responses,
            duplicate_ids: w.duplicate_ids,
            unknown_ids: w.unknown_ids,
            missing_ids: w.missing_ids,
            mixups: w.mixups,
            correlation_violations: w.correlation_violations,
            late_responses: w.late_responses,
            protocol_violations: w.protocol_violations,
            notifications: w.notifications,
            server_requests: w.server_requests,
            stderr_lines: w.stderr_lines,
            sessions_expired: w.sessions_expired,
            http_errors: w.http_errors,
            cancellations_sent: w.cancellations_sent,
            in_flight: w.in_flight,
            violation_samples: &w.violation_samples,
            connections_opened: w.connections_opened,
            connection_setup_p50_ms: w.connection_setup_p50_ms,
            connection_setup_p99_ms: w.connection_setup_p99_ms,
            connection_setup_max_ms: w.connection_setup_max_ms,
            tls_handshakes: w.tls_handshakes,
            tls_resumed: w.tls_resumed,
            http2_connections: w.http2_connections,
            auth_failures: w.auth_failures,
            token_fetches: w.token_fetches,
            token_fetches_failed: w.token_fetches_failed,
            token_fetch_mean_ms: w.token_fetch_mean_ms,
            token_fetch_max_ms: w.token_fetch_max_ms,
        }
    }
}

#[derive(Serialize)]
struct ColdStart<'a> {
    iterations: u64,
    failed: u64,
    mean_ms: f64,
    stddev_ms: f64,
    min_ms: f64,
    max_ms: f64,
    range_ms: f64,
    stage_means: &'a StageMeans,
}

impl<'a> From<&'a ColdStartSnapshot> for ColdStart<'a> {
    fn from(c: &'a ColdStartSnapshot) -> Self {
        ColdStart {
            iterations: c.iterations,
            failed: c.failed,
            mean_ms: c.mean_ms,
            stddev_ms: c.stddev_ms,
            min_ms: c.min_ms,
            max_ms: c.max_ms,
            range_ms: c.range_ms,
            stage_means: &c.stage_means,
        }
    }
}

#[derive(Serialize)]
struct Criterion<'a> {
    expression: &'a str,
    state: CriterionState,
    value: Option<f64>,
    threshold: Option<f64>,
    detail: &'a str,
    about: Option<&'a str>,
    changes: &'a [StateChange],
    changes_not_listed: u64,
}

impl<'a> From<&'a CriterionStatus> for Criterion<'a> {
    fn from(c: &'a CriterionStatus) -> Self {
        Criterion {
            expression: &c.expression,
            state: c.state,
            value: c.value,
            threshold: c.threshold,
            detail: &c.detail,
            about: c.about.as_deref(),
            changes: &c.changes,
            changes_not_listed: c.changes_not_listed,
        }
    }
}

/// A call figures object as the report writes it (`mcpstorm merge` writes
/// the merged ones so).
pub fn calls_json(calls: &CallStats) -> serde_json::Value {
    serde_json::to_value(Calls::from(calls)).unwrap_or_default()
}

/// A window of the latency time line as the report writes it.
pub fn window_json(point: &WindowPoint) -> serde_json::Value {
    serde_json::to_value(Window::from(point)).unwrap_or_default()
}

/// A criterion as the report writes it.
pub fn criterion_json(criterion: &CriterionStatus) -> serde_json::Value {
    serde_json::to_value(Criterion::from(criterion)).unwrap_or_default()
}

/// `serialize_with` for a scenario's `result`.
pub(super) fn result<S: serde::Serializer>(
    snapshot: &Option<Snapshot>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    snapshot.as_ref().map(Measured::from).serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_writes_what_the_schema_names_and_nothing_the_dashboard_keeps() {
        let mut snapshot = Snapshot::default();
        snapshot.criteria.push(CriterionStatus {
            expression: "rss_growth_mb <= 50".into(),
            state: CriterionState::Pass,
            value: Some(1.0),
            threshold: Some(50.0),
            detail: "rss_growth_mb = 1 MB".into(),
            about: None,
            // The dashboard's limit line: not a report field.
            caps: Some("rss_growth_mb".into()),
            changes: Vec::new(),
            changes_not_listed: 0,
        });
        let written = serde_json::to_value(Measured::from(&snapshot)).unwrap();
        let criterion = &written["criteria"][0];
        assert_eq!(criterion["expression"], "rss_growth_mb <= 50");
        assert_eq!(criterion["state"], "PASS");
        assert!(criterion.get("caps").is_none(), "{criterion}");
        // The call figures of the run sit flat beside its label in per_label,
        // and under `total` for the run.
        assert_eq!(written["total"]["calls"], 0);
        assert!(written["total"].get("outcomes").is_some());
    }
}
