//! Results as they leave mcpstorm: the complete JSON report and the formats
//! made from it (JUnit), the human summary and the headless progress line.

pub(crate) mod destination;
mod file;
mod html;
mod junit;
mod live;
mod markdown;
pub(crate) mod markup;
mod output;
mod progress;
pub mod prometheus;
pub mod saved;
mod schema;
pub(crate) use schema::{calls_json, criterion_json, window_json};
pub(crate) mod summary;

pub use destination::Destination;
pub use file::{FileReport, Format};
pub use live::{Finished, LiveFeed, RunCommand, RunStatus};
pub use output::{Following, Output, OutputError};
pub use progress::ProgressLine;
pub use prometheus::PrometheusOutput;
pub use summary::TextSummary;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::acceptance::all_passed;
use crate::stats::{CriterionState, PhaseState, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Fail,
    /// The scenario could not run (setup error).
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub description: String,
    pub source: String,
    pub verdict: Verdict,
    /// Why the scenario could not run, for `Verdict::Error`.
    pub error: Option<String>,
    /// Why the run is incomplete; an incomplete run fails whatever its
    /// criteria say. Reported as its sentence.
    #[serde(serialize_with = "as_sentence")]
    pub incomplete: Option<Incomplete>,
    /// The scenario's regression thresholds, for `mcpstorm compare`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regressions: Vec<String>,
    /// What was measured: the final snapshot, reported as `schema` says.
    #[serde(serialize_with = "schema::result")]
    pub result: Option<Snapshot>,
}

impl ScenarioResult {
    pub fn judged(name: &str, description: &str, source: &str, snapshot: Snapshot) -> Self {
        let incomplete = Incomplete::of(&snapshot);
        let verdict = if all_passed(&snapshot.criteria) && incomplete.is_none() {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        ScenarioResult {
            name: name.to_string(),
            description: description.to_string(),
            source: source.to_string(),
            verdict,
            error: None,
            incomplete,
            regressions: Vec::new(),
            result: Some(snapshot),
        }
    }

    /// Why it did not pass, one line each: the error that kept it from
    /// running, why the run is incomplete, each criterion that failed with
    /// its figures (or was not measured). Empty when it passed.
    pub fn reasons(&self) -> Vec<String> {
        let mut reasons: Vec<String> = self.error.iter().cloned().collect();
        reasons.extend(self.incomplete.as_ref().map(ToString::to_string));
        if let Some(snapshot) = &self.result {
            reasons.extend(
                snapshot
                    .criteria
                    .iter()
                    .filter(|c| c.state != CriterionState::Pass)
                    .map(|c| format!("{} {}: {}", c.state.word(), c.expression, c.detail)),
            );
        }
        reasons
    }
}

/// How a run that did not complete ended, in order of precedence: what
/// stopped it first is what is said.
#[derive(Debug, Clone, PartialEq)]
pub enum Incomplete {
    /// The server exited mid-run and was not started again.
    Crashed { crashes: u64 },
    /// Stopped by the person or a signal.
    Interrupted,
    /// The abort rule gave up on a server that stopped answering.
    Aborted(String),
    /// mcpstorm's own limits kept calls from being sent.
    NotSent { calls: u64, why: Option<String> },
    /// Phases that never ran.
    PhasesSkipped(Vec<String>),
    /// No call was made: criteria that held over nothing say nothing.
    NothingMeasured,
}

impl Incomplete {
    /// Why the run a snapshot ends is incomplete, if it is.
    pub fn of(snapshot: &Snapshot) -> Option<Incomplete> {
        let skipped: Vec<String> = snapshot
            .phases
            .iter()
            .filter(|p| p.state == PhaseState::Skipped)
            .map(|p| p.name.clone())
            .collect();
        // A crash the run recovered from (on_crash = "restart") leaves it
        // complete: its criteria (`crashes == 0`, say) judge it.
        let unrecovered = snapshot.crashes > snapshot.restarts_at_s.len() as u64;
        Some(if unrecovered {
            Incomplete::Crashed {
                crashes: snapshot.crashes,
            }
        } else if snapshot.interrupted {
            Incomplete::Interrupted
        } else if let Some(aborted) = &snapshot.aborted {
            Incomplete::Aborted(aborted.clone())
        } else if snapshot.not_sent > 0 {
            Incomplete::NotSent {
                calls: snapshot.not_sent,
                why: snapshot.not_sent_why.clone(),
            }
        } else if !skipped.is_empty() {
            Incomplete::PhasesSkipped(skipped)
        } else if snapshot.total.calls == 0 && !planned_nothing(snapshot) {
            Incomplete::NothingMeasured
        } else {
            return None;
        })
    }
}

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incomplete::Crashed { crashes } => write!(f, "the server crashed {crashes} time(s)"),
            Incomplete::Interrupted => f.write_str("interrupted"),
            Incomplete::Aborted(why) => write!(f, "aborted: {why}"),
            Incomplete::NotSent { calls, why } => write!(
                f,
                "mcpstorm could not send {calls} call(s): {}",
                why.as_deref().unwrap_or("a local limit")
            ),
            Incomplete::PhasesSkipped(phases) => write!(f, "phases not run: {}", phases.join(", ")),
            Incomplete::NothingMeasured => f.write_str("no call was made: nothing was measured"),
        }
    }
}

/// Whether every phase planned no call: a segment of a split test that
/// holds no share of any phase (`--segment`) made all it planned.
fn planned_nothing(snapshot: &Snapshot) -> bool {
    !snapshot.phases.is_empty() && snapshot.phases.iter().all(|p| p.planned_calls == Some(0))
}

fn as_sentence<S: serde::Serializer>(
    incomplete: &Option<Incomplete>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match incomplete {
        Some(why) => serializer.collect_str(why),
        None => serializer.serialize_none(),
    }
}

/// Whether the person asked for no colours: `NO_COLOR` set to anything
/// but the empty string (no-color.org).
pub fn colours_declined() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

/// The server as the report names it (its `target` field).
#[derive(Debug, Clone, Serialize)]
pub struct ReportedTarget {
    pub transport: crate::transport::TransportKind,
    /// The server command, environment values redacted.
    pub command: String,
    /// `--insecure`: the server's TLS certificate was not checked.
    pub tls_unverified: bool,
}

/// The machine mcpstorm ran on (the report's `machine`): what its figures
/// depend on. Read from /proc and /etc/os-release; the host's name is not
/// given.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    pub cpus: Option<u64>,
    pub memory_mb: Option<u64>,
    pub kernel: Option<String>,
    pub os: Option<String>,
}

impl Machine {
    pub fn this() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let memory_mb = read("/proc/meminfo").and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024)
        });
        let os = read("/etc/os-release").and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("PRETTY_NAME="))?;
            Some(line["PRETTY_NAME=".len()..].trim_matches('"').to_string())
        });
        Machine {
            cpus: std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u64),
            memory_mb,
            kernel: read("/proc/sys/kernel/osrelease").map(|k| k.trim().to_string()),
            os,
        }
    }
}

/// The version of the report's layout (docs/REPORT.md): raised when a field
/// is renamed, moved or changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub mcpstorm_version: &'static str,
    /// Seconds since the Unix epoch when the run started.
    pub started_at_unix_s: u64,
    pub target: ReportedTarget,
    pub machine: Machine,
    /// Which run of the session this is: 1, then 2, 3… for each `r` on the
    /// dashboard's final view (each written to a file of its own).
    pub run: u32,
    pub interrupted: bool,
    pub verdict: Verdict,
    /// `--segment`: which share of the whole test this report holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentRecord>,
    pub scenarios: Vec<ScenarioResult>,
}

/// Which share of a test split by `--segment` a report holds, and the
/// whole test it is a share of (what `mcpstorm merge` checks the segments
/// agree on).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SegmentRecord {
    /// From 1, as `--segment I/N` gives it.
    pub index: u32,
    pub count: u32,
    /// `--start-at`, in Unix seconds.
    pub start_at_unix_s: Option<f64>,
    /// The test before it was split: each scenario's phases and their
    /// whole loads.
    pub whole: Vec<WholeScenario>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct WholeScenario {
    pub name: String,
    /// `name: load` of each phase, unsplit.
    pub phases: Vec<String>,
}

impl Report {
    pub fn new(target: ReportedTarget) -> Self {
        Report {
            schema_version: SCHEMA_VERSION,
            mcpstorm_version: env!("CARGO_PKG_VERSION"),
            started_at_unix_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            target,
            machine: Machine::this(),
            run: 1,
            interrupted: false,
            verdict: Verdict::Pass,
            segment: None,
            scenarios: Vec::new(),
        }
    }

    pub fn push(&mut self, result: ScenarioResult) {
        self.verdict = match (self.verdict, result.verdict) {
            (Verdict::Error, _) | (_, Verdict::Error) => Verdict::Error,
            (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
            _ => Verdict::Pass,
        };
        self.scenarios.push(result);
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> std::io::Result<Vec<u8>> {
        let mut json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        json.push(b'\n');
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_made_no_call_cannot_pass() {
        let result = ScenarioResult::judged("empty", "", "built-in", Snapshot::default());
        assert_eq!(result.verdict, Verdict::Fail);
        assert_eq!(result.incomplete, Some(Incomplete::NothingMeasured));
        assert_eq!(
            serde_json::to_value(&result).unwrap()["incomplete"],
            "no call was made: nothing was measured"
        );
        let mut one_call = Snapshot::default();
        one_call.total.calls = 1;
        let result = ScenarioResult::judged("one", "", "built-in", one_call);
        assert_eq!(result.verdict, Verdict::Pass);
    }
}
