//! `mcpstorm compare BASE.json NEW.json`: two saved runs side by side, per
//! scenario, phase and tool, each difference with whether it is beyond
//! noise (`noise.rs`), and the thresholds it crosses (`threshold.rs`),
//! rendered as Markdown for a pull request (`markdown.rs`).
//!
//! Scenarios are matched by name, phases by name within a scenario, tools
//! by label; what only one run has is listed, not compared.

pub mod markdown;
pub mod noise;
pub mod threshold;

use serde::Serialize;

use noise::{Distribution, Interval, proportion_interval};

use crate::report::saved::{SavedCalls, SavedReport, SavedResult, SavedTrend};

/// How a figure's difference between the runs stands against noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// The two runs' 95 % intervals do not meet.
    Beyond,
    /// They meet: the difference may be chance.
    Within,
    /// The figure has no interval (one reading per run): its size alone
    /// speaks, and a threshold judges it as it is.
    Untested,
}

/// How a figure is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Ms,
    PerSecond,
    /// A fraction (0..1), shown as a percentage; its change in points.
    Fraction,
    KbPerCall,
    Mb,
    Count,
}

/// One figure of both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The metric's name, as `--fail-on` and the criteria name it.
    pub metric: &'static str,
    pub unit: Unit,
    pub base: Option<f64>,
    pub new: Option<f64>,
    pub noise: Noise,
    /// A memory trend that had not settled in one of the runs (no
    /// collection seen for long enough, MEASUREMENT.md): judged as it
    /// stands, as the run's criteria judge it at the end, and said.
    pub unsettled: bool,
}

impl Figure {
    /// New minus base, when both runs have the figure.
    pub fn change(&self) -> Option<f64> {
        Some(self.new? - self.base?)
    }

    /// The change relative to the base (0.1 = 10 % more). From a base of
    /// zero any rise is infinite (errors where there were none).
    pub fn relative(&self) -> Option<f64> {
        let (base, change) = (self.base?, self.change()?);
        Some(if base != 0.0 {
            change / base.abs()
        } else if change == 0.0 {
            0.0
        } else {
            change.signum() * f64::INFINITY
        })
    }
}

/// Written with its change (new − base) and relative change (a fraction of
/// the base; `null` from a base of zero).
impl Serialize for Figure {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Figure", 8)?;
        out.serialize_field("metric", self.metric)?;
        out.serialize_field("unit", &self.unit)?;
        out.serialize_field("base", &self.base)?;
        out.serialize_field("new", &self.new)?;
        out.serialize_field("change", &self.change())?;
        out.serialize_field(
            "relative_change",
            &self.relative().filter(|r| r.is_finite()),
        )?;
        out.serialize_field("noise", &self.noise)?;
        out.serialize_field("unsettled", &self.unsettled)?;
        out.end()
    }
}

/// The smallest changes called beyond noise, however narrow the intervals:
/// two runs of one server differ by more than either run's intervals
/// foresee (calls slowed together, a machine busier in one run; the
/// memory floor's troughs are not independent points either).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoiseFloors {
    /// A latency figure's change, as a fraction of the base (0.05 = 5 %).
    pub latency: f64,
    /// Memory kept per call, KB: the resolution at which mcpstorm names a
    /// leaking tool (MEASUREMENT.md).
    pub memory_kb_per_call: f64,
}

impl Default for NoiseFloors {
    fn default() -> Self {
        NoiseFloors {
            latency: 0.05,
            memory_kb_per_call: 0.5,
        }
    }
}

/// Which calls a part covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PartKind {
    WholeRun,
    Phase { warmup: bool },
    Tool,
}

/// The figures of one part of a scenario: the whole run, a phase or a tool.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    #[serde(flatten)]
    pub kind: PartKind,
    pub name: String,
    pub calls: [u64; 2],
    pub figures: Vec<Figure>,
}

impl Part {
    /// Whether thresholds judge it: not a warm-up, whose calls meet a cold
    /// server by design (growth counts from its end, as in a run).
    pub fn judged(&self) -> bool {
        self.kind != PartKind::Phase { warmup: true }
    }

    /// How the part is named in tables: "whole run", "phase steady", "tool echo".
    pub fn title(&self) -> String {
        match self.kind {
            PartKind::WholeRun => "whole run".to_string(),
            PartKind::Phase { warmup: true } => format!("phase {} (warm-up)", self.name),
            PartKind::Phase { warmup: false } => format!("phase {}", self.name),
            PartKind::Tool => format!("tool {}", self.name),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioComparison {
    pub name: String,
    /// The new run's scenario file's own thresholds (`regressions`), which
    /// judge this scenario beside the command line's.
    #[serde(serialize_with = "threshold::texts")]
    pub regressions: Vec<threshold::Threshold>,
    pub parts: Vec<Part>,
    /// What one run measured and the other did not (a phase, a tool, an error).
    pub unmatched: Vec<String>,
}

/// One run's identity, as the comparison heads it.
#[derive(Debug, Clone, Serialize)]
pub struct RunIdentity {
    pub file: String,
    pub mcpstorm_version: String,
    pub started_at_unix_s: u64,
    pub target: String,
    pub machine: String,
    pub verdict: String,
}

impl RunIdentity {
    fn of(report: &SavedReport, file: &str) -> RunIdentity {
        let m = &report.machine;
        let mut machine = Vec::new();
        if let Some(cpus) = m.cpus {
            machine.push(format!("{cpus} CPUs"));
        }
        if let Some(mb) = m.memory_mb {
            machine.push(format!("{:.1} GB", mb as f64 / 1024.0));
        }
        if let Some(kernel) = &m.kernel {
            machine.push(format!("Linux {kernel}"));
        }
        RunIdentity {
            file: file.to_string(),
            mcpstorm_version: report.mcpstorm_version.clone(),
            started_at_unix_s: report.started_at_unix_s,
            target: report.target.command.clone(),
            machine: machine.join(", "),
            verdict: report.verdict.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub base: RunIdentity,
    pub new: RunIdentity,
    /// Why the two runs may differ for reasons other than the server.
    pub cautions: Vec<String>,
    pub scenarios: Vec<ScenarioComparison>,
    /// Scenarios one run has and the other not.
    pub unmatched: Vec<String>,
    /// The smallest latency change called beyond noise (a fraction).
    pub floors: NoiseFloors,
}

impl Comparison {
    pub fn of(
        base: &SavedReport,
        base_file: &str,
        new: &SavedReport,
        new_file: &str,
        floors: NoiseFloors,
    ) -> Self {
        let base_id = RunIdentity::of(base, base_file);
        let new_id = RunIdentity::of(new, new_file);
        let mut cautions = Vec::new();
        if base_id.machine != new_id.machine {
            cautions.push(format!(
                "the runs were made on different machines ({} / {}): a difference may be the machine's",
                or_unknown(&base_id.machine),
                or_unknown(&new_id.machine)
            ));
        }
        if base_id.target != new_id.target {
            cautions.push(format!(
                "the targets differ (`{}` / `{}`)",
                base_id.target, new_id.target
            ));
        }
        if base_id.mcpstorm_version != new_id.mcpstorm_version {
            cautions.push(format!(
                "made by different mcpstorm versions ({} / {})",
                base_id.mcpstorm_version, new_id.mcpstorm_version
            ));
        }
        let mut scenarios = Vec::new();
        let mut unmatched = Vec::new();
        for scenario in &base.scenarios {
            match new.scenarios.iter().find(|s| s.name == scenario.name) {
                None => unmatched.push(format!("scenario {} is only in the base", scenario.name)),
                Some(other) => match (&scenario.result, &other.result) {
                    (Some(b), Some(n)) => {
                        scenarios.push(compare_scenario(&scenario.name, b, n, floors))
                    }
                    _ => unmatched.push(format!(
                        "scenario {} did not measure in {}",
                        scenario.name,
                        if scenario.result.is_none() {
                            "the base"
                        } else {
                            "the new run"
                        }
                    )),
                },
            }
        }
        for scenario in &new.scenarios {
            if !base.scenarios.iter().any(|s| s.name == scenario.name) {
                unmatched.push(format!("scenario {} is only in the new run", scenario.name));
            }
        }
        Comparison {
            base: base_id,
            new: new_id,
            cautions,
            scenarios,
            unmatched,
            floors,
        }
    }
}

fn or_unknown(text: &str) -> &str {
    if text.is_empty() { "unknown" } else { text }
}

fn compare_scenario(
    name: &str,
    base: &SavedResult,
    new: &SavedResult,
    floors: NoiseFloors,
) -> ScenarioComparison {
    let mut unmatched = Vec::new();
    let mut whole = call_part(PartKind::WholeRun, "", &base.total, &new.total, floors);
    whole.figures.extend(memory_figures(base, new, floors));
    let mut parts = vec![whole];
    for phase in &base.phases {
        let Some(other) = new.phases.iter().find(|p| p.name == phase.name) else {
            unmatched.push(format!("phase {} is only in the base", phase.name));
            continue;
        };
        if phase.calls.calls == 0 && other.calls.calls == 0 {
            continue;
        }
        let mut part = call_part(
            PartKind::Phase {
                warmup: phase.warmup,
            },
            &phase.name,
            &phase.calls,
            &other.calls,
            floors,
        );
        let memory = |m: &Option<crate::report::saved::SavedPhaseMemory>| {
            m.as_ref().map(|m| {
                (
                    m.rss_trend.clone(),
                    m.rss_trend_settling.is_some(),
                    m.rss_growth_mb,
                )
            })
        };
        if let (Some(b), Some(n)) = (memory(&phase.memory), memory(&other.memory)) {
            part.figures
                .push(trend_figure((&b.0, b.1), (&n.0, n.1), floors));
            part.figures
                .push(untested("rss_growth_mb", Unit::Mb, b.2, n.2));
        }
        parts.push(part);
    }
    for phase in &new.phases {
        if !base.phases.iter().any(|p| p.name == phase.name) {
            unmatched.push(format!("phase {} is only in the new run", phase.name));
        }
    }
    for label in &base.per_label {
        let Some(other) = new.per_label.iter().find(|l| l.label == label.label) else {
            unmatched.push(format!("tool {} is only in the base", label.label));
            continue;
        };
        let mut part = call_part(
            PartKind::Tool,
            &label.label,
            &label.calls,
            &other.calls,
            floors,
        );
        let retained = |result: &SavedResult| {
            result
                .resources
                .retained_by_label
                .iter()
                .find(|r| r.label == label.label)
                .map(|r| (r.kb_per_call, r.kb_per_call_low, r.kb_per_call_high))
        };
        if let (Some(b), Some(n)) = (retained(base), retained(new)) {
            part.figures.push(Figure {
                metric: "rss_kb_per_call",
                unit: Unit::KbPerCall,
                base: Some(b.0),
                new: Some(n.0),
                noise: memory_noise(
                    Interval {
                        low: b.1,
                        high: b.2,
                    },
                    Interval {
                        low: n.1,
                        high: n.2,
                    },
                    n.0 - b.0,
                    floors,
                ),
                unsettled: base.resources.rss_trend_settling.is_some()
                    || new.resources.rss_trend_settling.is_some(),
            });
        }
        parts.push(part);
    }
    for label in &new.per_label {
        if !base.per_label.iter().any(|l| l.label == label.label) {
            unmatched.push(format!("tool {} is only in the new run", label.label));
        }
    }
    ScenarioComparison {
        name: name.to_string(),
        regressions: Vec::new(),
        parts,
        unmatched,
    }
}

/// The latency percentiles tested on the histograms: name and quantile.
pub const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
];

fn call_part(
    kind: PartKind,
    name: &str,
    base: &SavedCalls,
    new: &SavedCalls,
    floors: NoiseFloors,
) -> Part {
    let mut figures = Vec::new();
    let histograms = (
        Distribution::from_buckets(&base.latency_histogram_us),
        Distribution::from_buckets(&new.latency_histogram_us),
    );
    for (metric, q) in PERCENTILES {
        let summary = |calls: &SavedCalls| match metric {
            "p50" => calls.latency.p50_ms,
            "p90" => calls.latency.p90_ms,
            "p95" => calls.latency.p95_ms,
            "p99" => calls.latency.p99_ms,
            _ => calls.latency.p999_ms,
        };
        figures.push(match &histograms {
            (Some(b), Some(n)) => latency_figure(
                metric,
                [Some(b.quantile_ms(q)), Some(n.quantile_ms(q))],
                Some([b.quantile_interval_ms(q), n.quantile_interval_ms(q)]),
                floors,
            ),
            _ => untested(metric, Unit::Ms, summary(base), summary(new)),
        });
    }
    figures.push(latency_figure(
        "mean",
        [base.latency.mean_ms, new.latency.mean_ms],
        mean_interval(base)
            .zip(mean_interval(new))
            .map(|(b, n)| [b, n]),
        floors,
    ));
    figures.push(untested(
        "max",
        Unit::Ms,
        base.latency.max_ms,
        new.latency.max_ms,
    ));
    figures.push(untested(
        "throughput",
        Unit::PerSecond,
        base.throughput_per_s,
        new.throughput_per_s,
    ));
    let errors = |calls: &SavedCalls| calls.calls.saturating_sub(calls.outcomes.ok);
    for (metric, counted) in [
        (
            "success_rate",
            (|calls: &SavedCalls| calls.outcomes.ok) as fn(&SavedCalls) -> u64,
        ),
        ("error_rate", errors),
    ] {
        let rate = |calls: &SavedCalls| {
            (calls.calls > 0).then(|| counted(calls) as f64 / calls.calls as f64)
        };
        let interval = |calls: &SavedCalls| proportion_interval(counted(calls), calls.calls);
        figures.push(Figure {
            metric,
            unit: Unit::Fraction,
            base: rate(base),
            new: rate(new),
            noise: match (interval(base), interval(new)) {
                (Some(b), Some(n)) => apart_or_within(b, n),
                _ => Noise::Untested,
            },
            unsettled: false,
        });
    }
    figures.push(untested(
        "errors",
        Unit::Count,
        Some(errors(base) as f64),
        Some(errors(new) as f64),
    ));
    Part {
        kind,
        name: name.to_string(),
        calls: [base.calls, new.calls],
        figures,
    }
}

/// A latency figure: beyond noise when the runs' intervals do not meet and
/// it moved by the noise floor at least (a fraction of the base): two runs
/// of one server drift apart by a few per cent that no interval of one run
/// can foresee (docs/COMPARE.md).
fn latency_figure(
    metric: &'static str,
    [base, new]: [Option<f64>; 2],
    intervals: Option<[Interval; 2]>,
    floors: NoiseFloors,
) -> Figure {
    let mut figure = untested(metric, Unit::Ms, base, new);
    if let Some([b, n]) = intervals {
        let moved_enough = figure
            .relative()
            .is_none_or(|relative| relative.abs() >= floors.latency);
        figure.noise = if b.apart_from(&n) && moved_enough {
            Noise::Beyond
        } else {
            Noise::Within
        };
    }
    figure
}

/// The mean's 95 % interval from the saved mean, deviation and count.
fn mean_interval(calls: &SavedCalls) -> Option<Interval> {
    let (mean, stddev) = (calls.latency.mean_ms?, calls.latency.stddev_ms?);
    let n = calls.latency.count;
    (n >= 2).then(|| {
        let half = 1.959_964 * stddev / (n as f64).sqrt();
        Interval {
            low: mean - half,
            high: mean + half,
        }
    })
}

fn apart_or_within(base: Interval, new: Interval) -> Noise {
    if base.apart_from(&new) {
        Noise::Beyond
    } else {
        Noise::Within
    }
}

fn untested(metric: &'static str, unit: Unit, base: Option<f64>, new: Option<f64>) -> Figure {
    Figure {
        metric,
        unit,
        base,
        new,
        noise: Noise::Untested,
        unsettled: false,
    }
}

/// The memory kept per call, tested on the trends' 95 % intervals.
/// Memory kept per call: beyond noise when the intervals do not meet and it
/// moved by the memory floor at least.
fn memory_noise(base: Interval, new: Interval, change: f64, floors: NoiseFloors) -> Noise {
    if change.abs() < floors.memory_kb_per_call {
        Noise::Within
    } else {
        apart_or_within(base, new)
    }
}

fn trend_figure(
    base: (&Option<SavedTrend>, bool),
    new: (&Option<SavedTrend>, bool),
    floors: NoiseFloors,
) -> Figure {
    let value = |t: &Option<SavedTrend>| t.as_ref().map(|t| t.kb_per_call);
    let noise = match (base.0, new.0) {
        (Some(b), Some(n)) => memory_noise(
            Interval {
                low: b.kb_per_call_low,
                high: b.kb_per_call_high,
            },
            Interval {
                low: n.kb_per_call_low,
                high: n.kb_per_call_high,
            },
            n.kb_per_call - b.kb_per_call,
            floors,
        ),
        _ => Noise::Untested,
    };
    Figure {
        metric: "rss_trend_kb_per_call",
        unit: Unit::KbPerCall,
        base: value(base.0),
        new: value(new.0),
        noise,
        unsettled: base.1 || new.1,
    }
}

/// The server's resources over the whole run.
fn memory_figures(base: &SavedResult, new: &SavedResult, floors: NoiseFloors) -> Vec<Figure> {
    let (b, n) = (&base.resources, &new.resources);
    if b.unmeasured.is_some() || n.unmeasured.is_some() {
        return Vec::new();
    }
    let count = |v: Option<u64>| v.map(|v| v as f64);
    vec![
        trend_figure(
            (&b.rss_trend, b.rss_trend_settling.is_some()),
            (&n.rss_trend, n.rss_trend_settling.is_some()),
            floors,
        ),
        untested("rss_growth_mb", Unit::Mb, b.rss_growth_mb, n.rss_growth_mb),
        untested("rss_max_mb", Unit::Mb, b.rss_max_mb, n.rss_max_mb),
        untested("fd_max", Unit::Count, count(b.fds_max), count(n.fds_max)),
        untested(
            "threads_max",
            Unit::Count,
            count(b.threads_max),
            count(n.threads_max),
        ),
        untested(
            "processes_max",
            Unit::Count,
            count(b.processes_max),
            count(n.processes_max),
        ),
    ]
}
