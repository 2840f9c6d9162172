//! The metrics a criterion can name, what each means, and where its value
//! comes from in a snapshot. `mcpstorm metrics` prints this table.

use super::range::Range;
use crate::stats::{
    Attribution, BadInputTally, CallStats, CapacityResult, ChurnSnapshot, ColdStartSnapshot,
    LabelPerCall, LatencySummary, ResourceSnapshot, SessionsResult, Snapshot,
};

/// What scope a metric accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scope {
    /// `name`, `name(phase)`, `name(phase, label)`, `name(*, label)`.
    Calls,
    /// Run-wide only: `name`.
    Run,
    /// One phase, named: `name(phase)`.
    Phase,
    /// One tool or method, named: `name(label)`.
    Label,
}

pub struct MetricDef {
    pub name: &'static str,
    pub unit: &'static str,
    pub about: &'static str,
    read: Read,
}

/// Where a metric's value comes from: each metric's extractor stands in the
/// table beside its name, and what it reads decides its scope and when it
/// cannot be measured at all.
enum Read {
    /// The calls of the run, a phase or a tool (`ScopedCalls`).
    Calls(fn(&ScopedCalls) -> Option<f64>),
    /// Run-wide figures that need nothing but the run.
    Run(fn(&Snapshot) -> Option<f64>),
    /// The server's process tree: N/A when mcpstorm knows no process.
    Process(fn(&ResourceSnapshot) -> Option<f64>),
    /// The server's memory trend, in this many units per KB a call: a
    /// process figure with a 95 % interval, settling until the floor is
    /// known (`stats::trend::Settling`).
    Trend(f64),
    /// The server's memory growth, counted to the floor it stands on now: a
    /// process figure, settling while the trend's floor is not known (a
    /// heap's first rise looks like growth until it falls back).
    Growth(fn(&ResourceSnapshot) -> Option<f64>),
    /// PSS of the tree: N/A, too, when smaps_rollup cannot be read.
    Pss(fn(&ResourceSnapshot) -> Option<f64>),
    /// A churn phase's count.
    Churn(fn(&ChurnSnapshot) -> Option<f64>),
    /// A churn phase's memory figure: N/A when the transport cannot give it
    /// or the fit cannot conclude.
    ChurnMemory(fn(&ChurnSnapshot) -> Option<f64>),
    /// What one label keeps per call of a resource (its floor attributed to
    /// the labels): N/A without a process, or when the labels cannot be told
    /// apart; settling while the memory's floor is not known. The extractor
    /// picks the resource's [`Attribution`].
    PerLabel(fn(&ResourceSnapshot) -> Attribution<'_>),
    /// The largest of those over the labels, and which label it is.
    PerLabelWorst(fn(&ResourceSnapshot) -> Attribution<'_>),
}

impl MetricDef {
    /// Whether it reads the server's process tree (memory, descriptors,
    /// CPU): a figure only the mcpstorm that measured the server has.
    pub fn reads_server(&self) -> bool {
        matches!(
            self.read,
            Read::Process(_)
                | Read::Growth(_)
                | Read::Trend(_)
                | Read::Pss(_)
                | Read::PerLabel(_)
                | Read::PerLabelWorst(_)
        )
    }

    pub fn scope(&self) -> Scope {
        match self.read {
            Read::Calls(_) => Scope::Calls,
            Read::Run(_)
            | Read::Process(_)
            | Read::Growth(_)
            | Read::Trend(_)
            | Read::Pss(_)
            | Read::PerLabelWorst(_) => Scope::Run,
            Read::Churn(_) | Read::ChurnMemory(_) => Scope::Phase,
            Read::PerLabel(_) => Scope::Label,
        }
    }
}

macro_rules! metrics {
    ($($name:literal, $read:ident, $unit:literal, $about:literal, $extract:expr;)*) => {
        pub const METRICS: &[MetricDef] = &[
            $(MetricDef { name: $name, unit: $unit, about: $about, read: Read::$read($extract) },)*
        ];
    };
}

metrics! {
    "p50", Calls, "ms", "median latency", |c| latency(c.stats, |l| l.p50_ms);
    "p90", Calls, "ms", "90th percentile latency", |c| latency(c.stats, |l| l.p90_ms);
    "p95", Calls, "ms", "95th percentile latency", |c| latency(c.stats, |l| l.p95_ms);
    "p99", Calls, "ms", "99th percentile latency", |c| latency(c.stats, |l| l.p99_ms);
    "p999", Calls, "ms", "99.9th percentile latency", |c| latency(c.stats, |l| l.p999_ms);
    "max", Calls, "ms", "highest latency", |c| latency(c.stats, |l| l.max_ms);
    "min", Calls, "ms", "lowest latency", |c| latency(c.stats, |l| l.min_ms);
    "mean", Calls, "ms", "mean latency", |c| latency(c.stats, |l| l.mean_ms);
    "stddev", Calls, "ms", "standard deviation of latency", |c| latency(c.stats, |l| l.stddev_ms);
    "calls", Calls, "", "calls completed (any outcome)", |c| Some(c.stats.calls as f64);
    "errors", Calls, "", "calls that did not succeed", |c| Some(c.stats.outcomes.errors() as f64);
    "timeouts", Calls, "", "calls with no response within the timeout",
        |c| Some(c.stats.outcomes.timeout as f64);
    "success_rate", Calls, "", "fraction of calls that succeeded (0..1)", |c| c.stats.success_rate;
    "error_rate", Calls, "", "fraction of calls that failed (0..1)",
        |c| c.stats.success_rate.map(|s| 1.0 - s);
    "throughput", Calls, "calls/s", "calls completed per second while the phase ran",
        |c| (c.stats.calls > 0).then_some(c.stats.throughput_per_s);
    "late_sends", Calls, "", "open model: sends more than 2 ms behind schedule",
        |c| Some(c.late_sends as f64);
    "min_success_rate_per_label", Calls, "", "the lowest success rate of any tool or method",
        |c| c.labels.iter().filter_map(|l| l.stats.success_rate).reduce(f64::min).or(c.stats.success_rate);
    "rss_growth_mb", Growth, "MB",
        "server RSS floor now (a sawtooth's last trough) minus its baseline (the floor since the warm-up)",
        |r| r.rss_growth_mb;
    "rss_max_mb", Process, "MB", "highest server RSS sampled", |r| r.rss_max_mb;
    "rss_baseline_mb", Process, "MB", "server RSS floor since the warm-up (or the start): the lowest sampled",
        |r| r.rss_baseline_mb;
    "rss_trend_mb_per_1k_calls", Trend, "MB", "memory retained per 1000 calls (floor fit, sawtooth-proof)",
        MB_PER_1K_CALLS_PER_KB;
    "rss_trend_kb_per_call", Trend, "KB", "memory retained per call (floor fit, sawtooth-proof)",
        1.0;
    "rss_kb_per_call", PerLabel, "KB",
        "memory one tool or method keeps per call: the floor attributed to the labels (called in turns)",
        ResourceSnapshot::retained_attribution;
    "rss_kb_per_call_worst", PerLabelWorst, "KB",
        "the most memory any one tool or method keeps per call (the detail names it)",
        ResourceSnapshot::retained_attribution;
    "fds_per_call", PerLabel, "",
        "file descriptors one tool or method keeps open per call (called in turns)",
        ResourceSnapshot::fds_attribution;
    "fds_per_call_worst", PerLabelWorst, "",
        "the most file descriptors any one tool or method keeps open per call (the detail names it)",
        ResourceSnapshot::fds_attribution;
    "pss_growth_mb", Pss, "MB", "server PSS now minus its baseline: a forked child's shared pages count once",
        |r| r.pss_growth_mb;
    "pss_max_mb", Pss, "MB", "highest server PSS sampled (whole tree)", |r| r.pss_max_mb;
    "processes_max", Process, "", "most processes in the server's tree at once",
        |r| r.processes_max.map(f64::from);
    "fd_max", Process, "", "most open file descriptors sampled (whole tree)", |r| r.fds_max.map(f64::from);
    "fd_growth", Process, "", "open file descriptors now minus baseline",
        |r| Some(f64::from(r.fds_current?) - f64::from(r.fds_baseline?));
    "threads_max", Process, "", "most threads sampled (whole tree)", |r| r.threads_max.map(f64::from);
    "cpu_max_percent", Process, "%", "highest CPU of the server tree (100 = one core)",
        |r| r.cpu_max_percent;
    "correlation_violations", Run, "", "duplicate, unknown or missing response ids, and mixed-up contents",
        |s| Some(s.wire.correlation_violations as f64);
    "protocol_violations", Run, "", "lines from the server that are not valid JSON-RPC",
        |s| Some(s.wire.protocol_violations as f64);
    "crashes", Run, "", "times the server exited while the run needed it", |s| Some(s.crashes as f64);
    "forced_stops", Run, "", "servers that did not exit when asked (stdin closed, or SIGTERM) and were killed",
        |s| Some(s.forced_stops as f64);
    "restarts", Run, "", "times a fresh server took a crashed one's place (on_crash = \"restart\")",
        |s| Some(s.restarts_at_s.len() as f64);
    "coldstart_mean_ms", Run, "ms", "mean spawn → initialized → first answer",
        |s| coldstart(s).map(|c| c.mean_ms);
    "coldstart_stddev_ms", Run, "ms", "standard deviation of that cold-start time",
        |s| coldstart(s).map(|c| c.stddev_ms);
    "coldstart_range_ms", Run, "ms", "max − min of that cold-start time",
        |s| coldstart(s).map(|c| c.range_ms);
    "coldstart_max_ms", Run, "ms", "slowest cold start", |s| coldstart(s).map(|c| c.max_ms);
    "sessions", Churn, "", "churn: sessions opened and ended in the phase", |c| Some(c.sessions as f64);
    "retained_kb_per_session", ChurnMemory, "KB",
        "churn: server memory kept per session ended (floor fit over sessions; HTTP)",
        |c| c.retained_kb_per_session;
    "bad_inputs_sent", Run, "", "robustness: bad inputs sent (malformed JSON, unknown method, …)",
        |s| bad_inputs(s, |t| t.sent);
    "bad_inputs_mishandled", Run, "", "robustness: bad inputs not answered as the specification names",
        |s| bad_inputs(s, |t| t.mishandled());
    "capacity_per_s", Run, "calls/s", "capacity search: the highest rate that met its objective so far",
        |s| capacity(s).and_then(|c| c.highest_met_per_s);
    "capacity_broke_at_per_s", Run, "calls/s", "capacity search: the lowest rate that broke its objective",
        |s| capacity(s).and_then(|c| c.broke_at_per_s);
    "sessions_held", Run, "", "sessions as users: the most sessions open at once with the objective met so far",
        |s| sessions_held(s).and_then(|h| h.held_sessions).map(|n| n as f64);
    "sessions_broke_at", Run, "", "sessions as users: the sessions open when the objective broke",
        |s| sessions_held(s).and_then(|h| h.broke_at_sessions).map(|n| n as f64);
}

/// The first sessions phase's result so far.
fn sessions_held(snapshot: &Snapshot) -> Option<&SessionsResult> {
    snapshot.phases.iter().find_map(|p| p.sessions.as_ref())
}

/// The first capacity search's result so far.
fn capacity(snapshot: &Snapshot) -> Option<&CapacityResult> {
    snapshot.phases.iter().find_map(|p| p.capacity.as_ref())
}

/// The cold-start figures, when at least one start succeeded.
fn coldstart(snapshot: &Snapshot) -> Option<&ColdStartSnapshot> {
    snapshot
        .coldstart
        .as_ref()
        .filter(|c| c.iterations > c.failed)
}

/// A count summed over every bad input sent, once any was.
fn bad_inputs(snapshot: &Snapshot, count: fn(&BadInputTally) -> u64) -> Option<f64> {
    let tallies: Vec<&BadInputTally> = snapshot
        .phases
        .iter()
        .filter_map(|p| p.bad_inputs.as_ref())
        .flatten()
        .collect();
    (!tallies.is_empty()).then(|| tallies.iter().map(|t| count(t)).sum::<u64>() as f64)
}

/// Why a metric cannot be measured in this run at all (not merely "no data
/// yet"): it is read off the server's process tree and mcpstorm knows none,
/// or it is a churn figure the transport cannot give or the fit cannot
/// conclude.
pub fn unmeasured(name: &str, args: &[String], snapshot: &Snapshot) -> Option<String> {
    let resources = &snapshot.resources;
    match find(name)?.read {
        Read::Process(_) | Read::Growth(_) | Read::Trend(_) => resources.unmeasured.clone(),
        Read::Pss(_) => resources.unmeasured.clone().or_else(|| {
            (resources.sampled && resources.pss_current_mb.is_none()).then(|| {
                "PSS cannot be read for every process of the tree (/proc/PID/smaps_rollup: \
                 another user's process, or a kernel before 4.14)"
                    .to_string()
            })
        }),
        Read::ChurnMemory(_) => churn_of(snapshot, args)?.retained_unmeasured.clone(),
        // Only a fixed mix is for good: too few points, or a floor not known
        // yet, is evidence still settling.
        Read::PerLabel(pick) | Read::PerLabelWorst(pick) => {
            resources.unmeasured.clone().or_else(|| {
                pick(resources)
                    .withheld
                    .filter(|why| why.is_for_good())
                    .map(ToString::to_string)
            })
        }
        Read::Calls(_) | Read::Run(_) | Read::Churn(_) => None,
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
    match def.scope() {
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
        Scope::Label => match (args, labels) {
            ([label], Some(labels)) if !labels.contains(label) => Err(format!(
                "unknown tool or method `{label}` in `{}` (calls: {})",
                def.name,
                labels.join(", ")
            )),
            ([_], _) => Ok(()),
            _ => Err(format!(
                "metric `{}` takes one tool or method: {}(label)",
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
    match find(name)?.read {
        Read::Calls(read) => read(&scoped_calls(snapshot, args)?),
        Read::Run(read) => read(snapshot),
        Read::Process(read) | Read::Growth(read) | Read::Pss(read) => read(&snapshot.resources),
        Read::Trend(per_kb) => snapshot.resources.rss_trend.map(|t| t.kb_per_call * per_kb),
        Read::Churn(read) | Read::ChurnMemory(read) => read(churn_of(snapshot, args)?),
        Read::PerLabel(pick) => label_figure(pick, args, &snapshot.resources).map(|r| r.per_call),
        Read::PerLabelWorst(pick) => worst(pick(&snapshot.resources).figures).map(|r| r.per_call),
    }
}

/// The label a run-wide metric picked out (the worst one's name), for the
/// criterion's detail.
pub fn which(name: &str, snapshot: &Snapshot) -> Option<String> {
    match find(name)?.read {
        Read::PerLabelWorst(pick) => {
            worst(pick(&snapshot.resources).figures).map(|r| r.label.clone())
        }
        _ => None,
    }
}

/// Why a metric's figure is not yet evidence enough to judge, while more
/// is coming: the memory trend before its floor is known, the figures per
/// label before there are enough floor points (or while the floor is not
/// known). Live, its criterion is SETTLING; at the end, a
/// figure is judged as it stands (the reason is shown) and a missing one is
/// N/A.
pub fn settling(name: &str, args: &[String], snapshot: &Snapshot) -> Option<String> {
    let resources = &snapshot.resources;
    match find(name)?.read {
        Read::ChurnMemory(_) => churn_of(snapshot, args)?.retained_settling.clone(),
        Read::Trend(_) => resources
            .rss_trend
            .and_then(|t| t.settling)
            .map(|s| s.to_string()),
        // Growth has a figure from the first sample after the baseline; its
        // floor is known no sooner than the trend's.
        Read::Growth(_) => match resources.rss_trend {
            Some(trend) => trend.settling.map(|s| s.to_string()),
            None => resources.rss_growth_mb.map(|_| {
                "too few samples since the baseline to know the memory's floor".to_string()
            }),
        },
        Read::PerLabel(pick) | Read::PerLabelWorst(pick) => {
            let attribution = pick(resources);
            attribution.settling.map(|s| s.to_string()).or_else(|| {
                attribution
                    .withheld
                    .filter(|why| !why.is_for_good())
                    .map(ToString::to_string)
            })
        }
        _ => None,
    }
}

/// A metric's 95 % interval where it has one (a fitted figure), else its
/// value as a point; `None` while there is no data for it.
pub fn range(name: &str, args: &[String], snapshot: &Snapshot) -> Option<Range> {
    let resources = &snapshot.resources;
    let interval = match find(name)?.read {
        Read::Trend(per_kb) => resources
            .rss_trend
            .map(|t| Range::between(t.kb_per_call_low * per_kb, t.kb_per_call_high * per_kb)),
        Read::PerLabel(pick) => label_figure(pick, args, resources).map(judged_range),
        // The worst label's interval reaches as low and as high as any
        // label's does.
        Read::PerLabelWorst(pick) => {
            let ranges: Vec<Range> = pick(resources).figures.iter().map(judged_range).collect();
            let low = ranges.iter().map(|r| r.low).reduce(f64::max)?;
            let high = ranges.iter().map(|r| r.high).reduce(f64::max)?;
            Some(Range::between(low, high))
        }
        Read::ChurnMemory(_) => {
            let churn = churn_of(snapshot, args)?;
            churn
                .retained_kb_per_session
                .and(churn.retained_kb_low.zip(churn.retained_kb_high))
                .map(|(low, high)| Range::between(low, high))
        }
        _ => None,
    };
    interval.or_else(|| value(name, args, snapshot).map(Range::point))
}

/// `rss_trend_mb_per_1k_calls` per KB a call: 1000 calls, 1024 KB a MB.
const MB_PER_1K_CALLS_PER_KB: f64 = 1000.0 / 1024.0;

/// The figure of the label a `name(label)` metric names.
fn label_figure<'a>(
    pick: fn(&ResourceSnapshot) -> Attribution<'_>,
    args: &[String],
    resources: &'a ResourceSnapshot,
) -> Option<&'a LabelPerCall> {
    let label = args.first()?;
    pick(resources).figures.iter().find(|r| &r.label == label)
}

/// What a label's figure lets a criterion conclude: its interval when it is
/// resolved; when not, from no more than zero up to its top. A figure too
/// wide to name its label cannot show that the label keeps anything (its
/// low end may sit above zero by a bias a noisy floor puts there: a hunt on
/// server-everything once failed on one), only that it keeps no more than
/// its top.
fn judged_range(figure: &LabelPerCall) -> Range {
    if figure.resolved {
        Range::between(figure.low, figure.high)
    } else {
        Range::between(figure.low.min(0.0), figure.high)
    }
}

fn worst(figures: &[LabelPerCall]) -> Option<&LabelPerCall> {
    figures
        .iter()
        .max_by(|a, b| a.per_call.total_cmp(&b.per_call))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_reads_an_empty_run_and_says_what_cannot_be_measured() {
        let mut snapshot = Snapshot::default();
        snapshot.resources.unmeasured = Some("no process".into());
        let mut names = std::collections::BTreeSet::new();
        for def in METRICS {
            assert!(names.insert(def.name), "{} twice in the table", def.name);
            let args: Vec<String> = match def.scope() {
                Scope::Phase => vec!["load".into()],
                Scope::Label => vec!["echo".into()],
                _ => Vec::new(),
            };
            // No data yet (or no such phase): nothing, and no panic.
            let _ = value(def.name, &args, &snapshot);
            let process = def.reads_server();
            assert_eq!(
                unmeasured(def.name, &args, &snapshot).is_some(),
                process,
                "{}",
                def.name
            );
        }
        assert_eq!(value("crashes", &[], &snapshot), Some(0.0));
        assert_eq!(value("no_such_metric", &[], &snapshot), None);
    }
}
