//! The metrics a criterion can name, what each means, and where its value
//! comes from in a snapshot. `mcpstorm metrics` prints this table.

use crate::stats::{CallStats, ChurnSnapshot, LatencySummary, Snapshot};

/// What scope a metric accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scope {
    /// `name`, `name(phase)`, `name(phase, label)`, `name(*, label)`.
    Calls,
    /// Run-wide only: `name`.
    Run,
    /// One phase, named: `name(phase)`.
    Phase,
}

pub struct MetricDef {
    pub name: &'static str,
    pub scope: Scope,
    pub unit: &'static str,
    pub about: &'static str,
}

macro_rules! metrics {
    ($($name:literal, $scope:ident, $unit:literal, $about:literal;)*) => {
        pub const METRICS: &[MetricDef] = &[
            $(MetricDef { name: $name, scope: Scope::$scope, unit: $unit, about: $about },)*
        ];
    };
}

metrics! {
    "p50", Calls, "ms", "median latency";
    "p90", Calls, "ms", "90th percentile latency";
    "p95", Calls, "ms", "95th percentile latency";
    "p99", Calls, "ms", "99th percentile latency";
    "p999", Calls, "ms", "99.9th percentile latency";
    "max", Calls, "ms", "highest latency";
    "min", Calls, "ms", "lowest latency";
    "mean", Calls, "ms", "mean latency";
    "stddev", Calls, "ms", "standard deviation of latency";
    "calls", Calls, "", "calls completed (any outcome)";
    "errors", Calls, "", "calls that did not succeed";
    "timeouts", Calls, "", "calls with no response within the timeout";
    "success_rate", Calls, "", "fraction of calls that succeeded (0..1)";
    "error_rate", Calls, "", "fraction of calls that failed (0..1)";
    "throughput", Calls, "calls/s", "calls completed per second while the phase ran";
    "late_sends", Calls, "", "open model: sends more than 2 ms behind schedule";
    "min_success_rate_per_label", Calls, "", "the lowest success rate of any tool or method";
    "rss_growth_mb", Run, "MB", "server RSS now minus its baseline (after warm-up)";
    "rss_max_mb", Run, "MB", "highest server RSS sampled";
    "rss_baseline_mb", Run, "MB", "server RSS after warm-up (or at start)";
    "rss_trend_mb_per_1k_calls", Run, "MB", "memory retained per 1000 calls (floor fit, sawtooth-proof)";
    "rss_trend_kb_per_call", Run, "KB", "memory retained per call (floor fit, sawtooth-proof)";
    "pss_growth_mb", Run, "MB", "server PSS now minus its baseline: a forked child's shared pages count once";
    "pss_max_mb", Run, "MB", "highest server PSS sampled (whole tree)";
    "processes_max", Run, "", "most processes in the server's tree at once";
    "fd_max", Run, "", "most open file descriptors sampled (whole tree)";
    "fd_growth", Run, "", "open file descriptors now minus baseline";
    "threads_max", Run, "", "most threads sampled (whole tree)";
    "cpu_max_percent", Run, "%", "highest CPU of the server tree (100 = one core)";
    "correlation_violations", Run, "", "duplicate, unknown or missing response ids, and mixed-up contents";
    "protocol_violations", Run, "", "lines from the server that are not valid JSON-RPC";
    "crashes", Run, "", "times the server exited while the run needed it";
    "forced_stops", Run, "", "servers that did not exit when asked (stdin closed, or SIGTERM) and were killed";
    "restarts", Run, "", "times a fresh server took a crashed one's place (on_crash = \"restart\")";
    "coldstart_mean_ms", Run, "ms", "mean spawn → initialized → first answer";
    "coldstart_stddev_ms", Run, "ms", "standard deviation of that cold-start time";
    "coldstart_range_ms", Run, "ms", "max − min of that cold-start time";
    "coldstart_max_ms", Run, "ms", "slowest cold start";
    "sessions", Phase, "", "churn: sessions opened and ended in the phase";
    "retained_kb_per_session", Phase, "KB", "churn: server memory kept per session ended (floor fit over sessions; HTTP)";
    "bad_inputs_sent", Run, "", "robustness: bad inputs sent (malformed JSON, unknown method, …)";
    "bad_inputs_mishandled", Run, "", "robustness: bad inputs not answered as the specification names";
}

/// Why a metric cannot be measured in this run at all (not merely "no data
/// yet"): it is read off the server's process tree and mcpstorm knows none,
/// or it is a churn figure the transport cannot give.
pub fn unmeasured(name: &str, args: &[String], snapshot: &Snapshot) -> Option<String> {
    if name == "retained_kb_per_session" {
        return churn_of(snapshot, args)?.retained_unmeasured.clone();
    }
    let reads_process = ["rss_", "pss_", "fd_", "threads_", "cpu_", "processes_"]
        .iter()
        .any(|prefix| name.starts_with(prefix));
    let resources = &snapshot.resources;
    if !reads_process {
        None
    } else if resources.unmeasured.is_some() {
        resources.unmeasured.clone()
    } else if name.starts_with("pss_") && resources.sampled && resources.pss_current_mb.is_none() {
        Some(
            "PSS cannot be read for every process of the tree (/proc/PID/smaps_rollup: \
             another user's process, or a kernel before 4.14)"
                .into(),
        )
    } else {
        None
    }
}

/// What the churn phase named by a `name(phase)` metric found.
fn churn_of<'a>(snapshot: &'a Snapshot, args: &[String]) -> Option<&'a ChurnSnapshot> {
    snapshot.phases[snapshot.phase_index(args.first()?)?]
        .churn
        .as_ref()
}

pub fn find(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

/// Check a metric's arguments against the scenario: `Err` says what is wrong.
pub fn check_scope(
    def: &MetricDef,
    args: &[String],
    phases: &[String],
    labels: Option<&[String]>,
) -> Result<(), String> {
    match def.scope {
        Scope::Run if !args.is_empty() => Err(format!(
            "metric `{}` is run-wide and takes no arguments",
            def.name
        )),
        Scope::Run => Ok(()),
        Scope::Phase => match args {
            [phase] if phases.contains(phase) => Ok(()),
            [phase] => Err(format!(
                "unknown phase `{phase}` in `{}` (phases: {})",
                def.name,
                phases.join(", ")
            )),
            _ => Err(format!(
                "metric `{}` takes one phase: {}(phase)",
                def.name, def.name
            )),
        },
        Scope::Calls => {
            if args.len() > 2 {
                return Err(format!(
                    "metric `{}` takes at most (phase, label)",
                    def.name
                ));
            }
            if let Some(phase) = args.first()
                && phase != "*"
                && !phases.contains(phase)
            {
                return Err(format!(
                    "unknown phase `{phase}` in `{}` (phases: {})",
                    def.name,
                    phases.join(", ")
                ));
            }
            if let (Some(label), Some(labels)) = (args.get(1), labels)
                && !labels.contains(label)
            {
                return Err(format!(
                    "unknown tool or method `{label}` in `{}` (calls: {})",
                    def.name,
                    labels.join(", ")
                ));
            }
            Ok(())
        }
    }
}

/// The calls a scoped metric looks at.
fn scoped_calls<'a>(snapshot: &'a Snapshot, args: &[String]) -> Option<ScopedCalls<'a>> {
    let phase = args.first().filter(|p| p.as_str() != "*");
    let label = args.get(1);
    let (stats, labels) = match phase {
        Some(name) => {
            let phase = &snapshot.phases[snapshot.phase_index(name)?];
            (&phase.stats, &phase.per_label)
        }
        None => (&snapshot.total, &snapshot.per_label),
    };
    let late_sends = match phase {
        Some(name) => snapshot.phases[snapshot.phase_index(name)?].late_sends,
        None => snapshot.phases.iter().map(|p| p.late_sends).sum(),
    };
    match label {
        Some(label) => Some(ScopedCalls {
            stats: &labels.iter().find(|l| &l.label == label)?.stats,
            labels: &[],
            late_sends,
        }),
        None => Some(ScopedCalls {
            stats,
            labels,
            late_sends,
        }),
    }
}

struct ScopedCalls<'a> {
    stats: &'a CallStats,
    labels: &'a [crate::stats::LabelStats],
    late_sends: u64,
}

fn latency(stats: &CallStats, pick: fn(&LatencySummary) -> f64) -> Option<f64> {
    stats.latency.as_ref().map(pick)
}

/// The value of a metric in a snapshot; `None` while there is no data for it.
pub fn value(name: &str, args: &[String], snapshot: &Snapshot) -> Option<f64> {
    let resources = &snapshot.resources;
    let coldstart = snapshot
        .coldstart
        .as_ref()
        .filter(|c| c.iterations > c.failed);
    match name {
        "rss_growth_mb" => resources.rss_growth_mb,
        "rss_max_mb" => resources.rss_max_mb,
        "rss_baseline_mb" => resources.rss_baseline_mb,
        "rss_trend_mb_per_1k_calls" => resources.rss_trend.map(|t| t.mb_per_1k_calls),
        "rss_trend_kb_per_call" => resources.rss_trend.map(|t| t.kb_per_call),
        "pss_growth_mb" => resources.pss_growth_mb,
        "pss_max_mb" => resources.pss_max_mb,
        "processes_max" => resources.processes_max.map(f64::from),
        "fd_max" => resources.fds_max.map(f64::from),
        "fd_growth" => Some(f64::from(resources.fds_current?) - f64::from(resources.fds_baseline?)),
        "threads_max" => resources.threads_max.map(f64::from),
        "cpu_max_percent" => resources.cpu_max_percent,
        "correlation_violations" => Some(snapshot.wire.correlation_violations as f64),
        "protocol_violations" => Some(snapshot.wire.protocol_violations as f64),
        "crashes" => Some(snapshot.crashes as f64),
        "forced_stops" => Some(snapshot.forced_stops as f64),
        "restarts" => Some(snapshot.restarts_at_s.len() as f64),
        "coldstart_mean_ms" => coldstart.map(|c| c.mean_ms),
        "coldstart_stddev_ms" => coldstart.map(|c| c.stddev_ms),
        "coldstart_range_ms" => coldstart.map(|c| c.range_ms),
        "coldstart_max_ms" => coldstart.map(|c| c.max_ms),
        "bad_inputs_sent" | "bad_inputs_mishandled" => {
            let tallies: Vec<_> = snapshot
                .phases
                .iter()
                .filter_map(|p| p.bad_inputs.as_ref())
                .flatten()
                .collect();
            if tallies.is_empty() {
                return None;
            }
            Some(match name {
                "bad_inputs_sent" => tallies.iter().map(|t| t.sent).sum::<u64>(),
                _ => tallies.iter().map(|t| t.mishandled()).sum(),
            } as f64)
        }
        "sessions" | "retained_kb_per_session" => {
            let churn = churn_of(snapshot, args)?;
            match name {
                "sessions" => Some(churn.sessions as f64),
                _ => churn.retained_kb_per_session,
            }
        }
        _ => {
            let scoped = scoped_calls(snapshot, args)?;
            let stats = scoped.stats;
            match name {
                "p50" => latency(stats, |l| l.p50_ms),
                "p90" => latency(stats, |l| l.p90_ms),
                "p95" => latency(stats, |l| l.p95_ms),
                "p99" => latency(stats, |l| l.p99_ms),
                "p999" => latency(stats, |l| l.p999_ms),
                "max" => latency(stats, |l| l.max_ms),
                "min" => latency(stats, |l| l.min_ms),
                "mean" => latency(stats, |l| l.mean_ms),
                "stddev" => latency(stats, |l| l.stddev_ms),
                "calls" => Some(stats.calls as f64),
                "errors" => Some(stats.outcomes.errors() as f64),
                "timeouts" => Some(stats.outcomes.timeout as f64),
                "success_rate" => stats.success_rate,
                "error_rate" => stats.success_rate.map(|s| 1.0 - s),
                "throughput" => (stats.calls > 0).then_some(stats.throughput_per_s),
                "late_sends" => Some(scoped.late_sends as f64),
                "min_success_rate_per_label" => scoped
                    .labels
                    .iter()
                    .filter_map(|l| l.stats.success_rate)
                    .reduce(f64::min)
                    .or(stats.success_rate),
                _ => None,
            }
        }
    }
}
