//! `mcpstorm compare BASE.json NEW.json`: saved runs side by side, per
//! scenario, phase and tool: what each run read (`reading.rs`), each
//! difference with whether it is beyond noise (`noise.rs`), and the
//! thresholds it crosses (`threshold.rs`), rendered as Markdown for a pull
//! request (`markdown.rs`). A side may hold several runs of one build: then
//! their spread is the noise.
//!
//! Scenarios are matched by name, phases by name within a scenario, tools
//! by label; what only one side has is listed, not compared.

pub mod markdown;
pub mod noise;
pub mod reading;
pub mod threshold;

use serde::Serialize;

use noise::runs_differ;
use reading::{Floor, MetricReading, Reading};

use crate::report::saved::{SavedReport, SavedResult};

/// How a figure's difference between the runs stands against noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// One run a side: the two runs' 95 % intervals do not meet; several:
    /// the runs' figures differ by more than they spread (Welch's t-test).
    /// Either way, by the noise floor at least.
    Beyond,
    /// They meet: the difference may be chance.
    Within,
    /// The figure has no interval (one reading per run, one run a side):
    /// its size alone speaks, and a threshold judges it as it is.
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

/// One figure of both sides (with several runs a side, the mean of the
/// runs' figures).
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

impl PartKind {
    /// How a part of this kind named `name` is written in tables.
    fn title(&self, name: &str) -> String {
        match self {
            PartKind::WholeRun => "whole run".to_string(),
            PartKind::Phase { warmup: true } => format!("phase {name} (warm-up)"),
            PartKind::Phase { warmup: false } => format!("phase {name}"),
            PartKind::Tool => format!("tool {name}"),
        }
    }
}

/// The figures of one part of a scenario: the whole run, a phase or a tool.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    #[serde(flatten)]
    pub kind: PartKind,
    pub name: String,
    /// Calls made, summed over each side's runs.
    pub calls: [u64; 2],
    /// How many runs of each side have this part.
    pub runs: [usize; 2],
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
        self.kind.title(&self.name)
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

/// A saved run and the file it was read from.
pub struct Run<'a> {
    pub report: &'a SavedReport,
    pub file: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub base: Vec<RunIdentity>,
    pub new: Vec<RunIdentity>,
    /// Why the two sides may differ for reasons other than the server.
    pub cautions: Vec<String>,
    pub scenarios: Vec<ScenarioComparison>,
    /// Scenarios one side has and the other not.
    pub unmatched: Vec<String>,
    /// The smallest changes called beyond noise.
    pub floors: NoiseFloors,
}

impl Comparison {
    /// Compare the runs of `base` with those of `new` (one or more each).
    pub fn of(base: &[Run], new: &[Run], floors: NoiseFloors) -> Self {
        let identities = |runs: &[Run]| -> Vec<RunIdentity> {
            runs.iter()
                .map(|r| RunIdentity::of(r.report, r.file))
                .collect()
        };
        let (base_ids, new_ids) = (identities(base), identities(new));
        let cautions = cautions(&base_ids, &new_ids);
        let names = |runs: &[Run]| -> Vec<String> {
            let mut names: Vec<String> = Vec::new();
            for run in runs {
                for scenario in &run.report.scenarios {
                    if !names.contains(&scenario.name) {
                        names.push(scenario.name.clone());
                    }
                }
            }
            names
        };
        let (base_names, new_names) = (names(base), names(new));
        let mut scenarios = Vec::new();
        let mut unmatched = Vec::new();
        for name in &base_names {
            if !new_names.contains(name) {
                unmatched.push(format!("scenario {name} is only in the base"));
                continue;
            }
            let (b, n) = (measured(base, name), measured(new, name));
            if b.is_empty() || n.is_empty() {
                let side = if b.is_empty() {
                    "the base"
                } else {
                    "the new run"
                };
                unmatched.push(format!("scenario {name} did not measure in {side}"));
                continue;
            }
            scenarios.push(compare_scenario(name, &b, &n, floors));
        }
        for name in new_names.iter().filter(|n| !base_names.contains(n)) {
            unmatched.push(format!("scenario {name} is only in the new run"));
        }
        Comparison {
            base: base_ids,
            new: new_ids,
            cautions,
            scenarios,
            unmatched,
            floors,
        }
    }
}

/// The results of scenario `name` in the runs that measured it.
fn measured<'a>(runs: &[Run<'a>], name: &str) -> Vec<&'a SavedResult> {
    runs.iter()
        .filter_map(|r| r.report.scenarios.iter().find(|s| s.name == name))
        .filter_map(|s| s.result.as_ref())
        .collect()
}

/// What differs between the sides besides the server: the machines, the
/// targets, the mcpstorm versions.
fn cautions(base: &[RunIdentity], new: &[RunIdentity]) -> Vec<String> {
    let distinct = |runs: &[RunIdentity], field: fn(&RunIdentity) -> &str| -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for run in runs {
            let value = field(run);
            let value = if value.is_empty() { "unknown" } else { value };
            if !seen.iter().any(|s| s == value) {
                seen.push(value.to_string());
            }
        }
        seen
    };
    let mut cautions = Vec::new();
    // What is read of each run, what differs, why it matters.
    type Check = (fn(&RunIdentity) -> &str, &'static str, &'static str);
    let checks: [Check; 3] = [
        (
            |r| &r.machine,
            "the runs were made on different machines",
            ": a difference may be the machine's",
        ),
        (|r| &r.target, "the targets differ", ""),
        (
            |r| &r.mcpstorm_version,
            "made by different mcpstorm versions",
            "",
        ),
    ];
    for (field, what, why) in checks {
        let (b, n) = (distinct(base, field), distinct(new, field));
        if b != n {
            cautions.push(format!("{what} ({} / {}){why}", b.join(", "), n.join(", ")));
        }
    }
    cautions
}

/// Which part of a scenario, and its readings, in one run.
struct RunPart {
    kind: PartKind,
    name: String,
    calls: u64,
    readings: Vec<MetricReading>,
}

/// A scenario's parts in one run: the whole run (calls and resources), each
/// phase (calls and its own memory), each tool (calls and the memory it keeps).
fn parts_of(result: &SavedResult) -> Vec<RunPart> {
    let mut whole = reading::of_calls(&result.total);
    whole.extend(reading::of_resources(result));
    let mut parts = vec![RunPart {
        kind: PartKind::WholeRun,
        name: String::new(),
        calls: result.total.calls,
        readings: whole,
    }];
    for phase in &result.phases {
        let mut readings = reading::of_calls(&phase.calls);
        readings.extend(reading::of_phase_memory(&phase.memory));
        parts.push(RunPart {
            kind: PartKind::Phase {
                warmup: phase.warmup,
            },
            name: phase.name.clone(),
            calls: phase.calls.calls,
            readings,
        });
    }
    for label in &result.per_label {
        let mut readings = reading::of_calls(&label.calls);
        readings.extend(reading::of_tool_memory(
            result,
            &label.label,
            label.calls.calls,
        ));
        parts.push(RunPart {
            kind: PartKind::Tool,
            name: label.label.clone(),
            calls: label.calls.calls,
            readings,
        });
    }
    parts
}

fn compare_scenario(
    name: &str,
    base: &[&SavedResult],
    new: &[&SavedResult],
    floors: NoiseFloors,
) -> ScenarioComparison {
    let base_parts: Vec<Vec<RunPart>> = base.iter().map(|r| parts_of(r)).collect();
    let new_parts: Vec<Vec<RunPart>> = new.iter().map(|r| parts_of(r)).collect();
    // Each part once, in the order the first run that has it gives.
    let keys = |runs: &[Vec<RunPart>]| -> Vec<(PartKind, String)> {
        let mut keys: Vec<(PartKind, String)> = Vec::new();
        for part in runs.iter().flatten() {
            let key = (part.kind.clone(), part.name.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    };
    let (base_keys, new_keys) = (keys(&base_parts), keys(&new_parts));
    let mut parts = Vec::new();
    let mut unmatched = Vec::new();
    for key in &base_keys {
        let (b, n) = (find(&base_parts, key), find(&new_parts, key));
        if n.is_empty() {
            unmatched.push(format!("{} is only in the base", key.0.title(&key.1)));
            continue;
        }
        let calls = |parts: &[&RunPart]| parts.iter().map(|p| p.calls).sum::<u64>();
        if calls(&b) == 0 && calls(&n) == 0 {
            continue;
        }
        parts.push(Part {
            kind: key.0.clone(),
            name: key.1.clone(),
            calls: [calls(&b), calls(&n)],
            runs: [b.len(), n.len()],
            figures: figures(&b, &n, floors),
        });
    }
    for key in new_keys.iter().filter(|k| !base_keys.contains(k)) {
        unmatched.push(format!("{} is only in the new run", key.0.title(&key.1)));
    }
    ScenarioComparison {
        name: name.to_string(),
        regressions: Vec::new(),
        parts,
        unmatched,
    }
}

/// The part `key` in each run that has it.
fn find<'a>(runs: &'a [Vec<RunPart>], key: &(PartKind, String)) -> Vec<&'a RunPart> {
    runs.iter()
        .filter_map(|run| run.iter().find(|p| p.kind == key.0 && p.name == key.1))
        .collect()
}

/// Each metric's figure from the two sides' runs of one part, in the order
/// the readings come.
fn figures(base: &[&RunPart], new: &[&RunPart], floors: NoiseFloors) -> Vec<Figure> {
    let mut metrics: Vec<&MetricReading> = Vec::new();
    for reading in base.iter().chain(new).flat_map(|p| &p.readings) {
        if !metrics.iter().any(|m| m.metric == reading.metric) {
            metrics.push(reading);
        }
    }
    let of = |parts: &[&RunPart], metric: &str| -> Vec<Reading> {
        parts
            .iter()
            .filter_map(|p| p.readings.iter().find(|r| r.metric == metric))
            .filter_map(|r| r.reading)
            .collect()
    };
    metrics
        .into_iter()
        .map(|m| {
            figure(
                m.metric,
                m.unit,
                m.floor,
                &of(base, m.metric),
                &of(new, m.metric),
                floors,
            )
        })
        .collect()
}

/// One metric of both sides. One run a side: beyond noise when the runs'
/// own intervals do not meet; several: when the runs' figures differ by more
/// than they spread. Either way only when the change reaches the metric's
/// noise floor: two runs of one server drift apart by more than one run's
/// intervals foresee (docs/COMPARE.md).
fn figure(
    metric: &'static str,
    unit: Unit,
    floor: Floor,
    base: &[Reading],
    new: &[Reading],
    floors: NoiseFloors,
) -> Figure {
    let mean = |readings: &[Reading]| {
        (!readings.is_empty())
            .then(|| readings.iter().map(|r| r.value).sum::<f64>() / readings.len() as f64)
    };
    let mut figure = Figure {
        metric,
        unit,
        base: mean(base),
        new: mean(new),
        noise: Noise::Untested,
        unsettled: base.iter().chain(new).any(|r| r.unsettled),
    };
    let differ = match (base, new) {
        ([b], [n]) => b.interval.zip(n.interval).map(|(b, n)| b.apart_from(&n)),
        _ => {
            let values =
                |readings: &[Reading]| readings.iter().map(|r| r.value).collect::<Vec<_>>();
            runs_differ(&values(base), &values(new))
        }
    };
    let reaches_floor = match floor {
        Floor::Latency => figure
            .relative()
            .is_none_or(|relative| relative.abs() >= floors.latency),
        Floor::Memory => {
            // The coarser of the floor and what the runs' calls can show.
            let grain = base
                .iter()
                .chain(new)
                .map(|r| r.grain_kb_per_call)
                .fold(floors.memory_kb_per_call, f64::max);
            figure.change().is_none_or(|change| change.abs() >= grain)
        }
        Floor::None => true,
    };
    figure.noise = match differ {
        None => Noise::Untested,
        Some(true) if reaches_floor => Noise::Beyond,
        Some(_) => Noise::Within,
    };
    figure
}
