//! The JSON report read back: what the other file formats (JUnit, …) are
//! made from, whether the run has just ended or the report was saved by an
//! earlier one (`mcpstorm report REPORT.json --out …`). The JSON is the
//! source of truth, so a format made at the end of a run and one made later
//! from its file are the same bytes.
//!
//! Only the fields the formats show are read; any field may be missing (it
//! reads as empty), and a field of the wrong type is an error naming its
//! key. A report is outside input: its size is bounded, and serde_json's
//! depth limit bounds its nesting.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use super::{Report, SCHEMA_VERSION};

/// Largest report file read.
pub const MAX_REPORT_BYTES: u64 = 512 * 1024 * 1024;

/// Why a saved report cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: larger than {} MB: not a report mcpstorm wrote", MAX_REPORT_BYTES >> 20)]
    TooLarge { file: String },
    #[error("{file}: line {line}, column {column}{}: {why}", key_shown(.key))]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        key: String,
        why: String,
    },
    #[error(
        "{file}: schema_version {found} is newer than this mcpstorm reads ({SCHEMA_VERSION}): \
         use the mcpstorm that wrote it"
    )]
    Newer { file: String, found: u32 },
}

fn key_shown(key: &str) -> String {
    match key {
        "" | "." => String::new(),
        key => format!(", at {key}"),
    }
}

/// A report file's bytes, refused beyond [`MAX_REPORT_BYTES`].
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, SavedError> {
    let file = path.display().to_string();
    let io = |source| SavedError::Io {
        file: file.clone(),
        source,
    };
    let opened = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    opened
        .take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        return Err(SavedError::TooLarge { file });
    }
    Ok(bytes)
}

/// A report file as JSON, whatever its fields (`mcpstorm merge` keeps them
/// all): bounded in size, and in depth by serde_json.
pub fn read_json(path: &Path) -> Result<serde_json::Value, SavedError> {
    let file = path.display().to_string();
    let bytes = read_bounded(path)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|inner| SavedError::Invalid {
            file: file.clone(),
            line: inner.line(),
            column: inner.column(),
            key: String::new(),
            why: inner.to_string(),
        })?;
    let version = value["schema_version"].as_u64().unwrap_or(0);
    if version > u64::from(SCHEMA_VERSION) {
        return Err(SavedError::Newer {
            file,
            found: u32::try_from(version).unwrap_or(u32::MAX),
        });
    }
    Ok(value)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedReport {
    pub schema_version: u32,
    pub mcpstorm_version: String,
    pub started_at_unix_s: u64,
    pub target: SavedTarget,
    pub machine: SavedMachine,
    pub interrupted: bool,
    pub verdict: String,
    pub segment: Option<SavedSegment>,
    pub scenarios: Vec<SavedScenario>,
}

/// `--segment`'s record; `index` `None` in a merged report.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedSegment {
    pub index: Option<u32>,
    pub count: u32,
    pub merged_from: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedTarget {
    pub transport: String,
    pub command: String,
    pub tls_unverified: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedMachine {
    pub cpus: Option<u64>,
    pub memory_mb: Option<u64>,
    pub kernel: Option<String>,
    pub os: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedScenario {
    pub name: String,
    pub description: String,
    pub source: String,
    pub verdict: String,
    pub error: Option<String>,
    pub incomplete: Option<String>,
    /// The scenario's regression thresholds (`mcpstorm compare`).
    pub regressions: Vec<String>,
    pub result: Option<SavedResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedResult {
    pub elapsed_s: f64,
    pub server: Option<SavedServer>,
    pub endpoint: Option<String>,
    pub phases: Vec<SavedPhase>,
    pub total: SavedCalls,
    pub per_label: Vec<SavedLabel>,
    pub windows: Vec<SavedWindow>,
    pub resources: SavedResources,
    pub crashes_at_s: Vec<f64>,
    pub restarts_at_s: Vec<f64>,
    pub stalls: Vec<SavedStall>,
    pub control_changes: Vec<SavedControlChange>,
    pub recent_errors: Vec<String>,
    pub stderr_tail: Vec<String>,
    pub notes: Vec<String>,
    pub criteria: Vec<SavedCriterion>,
}

/// One window of the latency time line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedWindow {
    pub t_s: f64,
    pub span_s: f64,
    pub calls: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub calls_per_s: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedLabel {
    pub label: String,
    #[serde(flatten)]
    pub calls: SavedCalls,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedStall {
    pub at_s: f64,
    pub lasted_s: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedControlChange {
    pub at_s: f64,
    pub paused: bool,
    pub load_scale: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedServer {
    pub name: String,
    pub version: String,
    pub protocol_version: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedPhase {
    pub name: String,
    pub warmup: bool,
    pub load: String,
    pub duration_s: f64,
    #[serde(flatten)]
    pub calls: SavedCalls,
    pub per_label: Vec<SavedLabel>,
    pub memory: Option<SavedPhaseMemory>,
    pub capacity: Option<SavedCapacity>,
    pub sessions: Option<SavedSessions>,
}

/// A capacity search's result, as the charts draw it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedCapacity {
    pub objective: String,
    pub highest_met_per_s: Option<f64>,
    pub broke_at_per_s: Option<f64>,
    pub broke_first: Option<String>,
    pub broke_on: Option<String>,
    pub generator_limit_per_s: Option<f64>,
    pub steps: Vec<SavedCapacityStep>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedCapacityStep {
    pub rate_per_s: f64,
    pub achieved_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub success_rate: f64,
    pub broke_on: Option<String>,
    pub server_cpu: Option<SavedCpu>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedCpu {
    pub cores_used: f64,
}

/// What sessions as users found, as the charts draw it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedSessions {
    pub objective: String,
    pub held_sessions: Option<u64>,
    pub broke_at_sessions: Option<u64>,
    pub broke_first: Option<String>,
    pub broke_on: Option<String>,
    pub windows: Vec<SavedSessionsWindow>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedSessionsWindow {
    pub sessions: u64,
    pub p99_ms: f64,
    pub success_rate: f64,
}

/// A phase's own memory figures.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedPhaseMemory {
    pub rss_growth_mb: Option<f64>,
    pub rss_trend: Option<SavedTrend>,
    pub rss_trend_settling: Option<String>,
}

/// A set of calls' figures (a phase's, or the whole run's).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedCalls {
    pub calls: u64,
    pub outcomes: SavedOutcomes,
    pub success_rate: Option<f64>,
    pub throughput_per_s: Option<f64>,
    pub latency: SavedLatency,
    /// `[µs, calls]` per recorded bucket, ascending (reports before this
    /// field have none).
    pub latency_histogram_us: Vec<[u64; 2]>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedOutcomes {
    pub ok: u64,
    pub jsonrpc_error: u64,
    pub tool_error: u64,
    pub timeout: u64,
    pub transport_error: u64,
    pub protocol_error: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedLatency {
    pub count: u64,
    pub mean_ms: Option<f64>,
    pub stddev_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedResources {
    pub unmeasured: Option<String>,
    pub pid: Option<u32>,
    pub rss_baseline_mb: Option<f64>,
    pub rss_growth_mb: Option<f64>,
    pub rss_max_mb: Option<f64>,
    pub rss_trend: Option<SavedTrend>,
    pub rss_trend_settling: Option<String>,
    pub retained_by_label: Vec<SavedPerCall>,
    pub fds_start: Option<u64>,
    pub fds_max: Option<u64>,
    pub threads_max: Option<u64>,
    pub processes_max: Option<u64>,
    pub cpu_max_percent: Option<f64>,
    pub members: Vec<SavedMember>,
    pub series: Vec<SavedProbe>,
}

/// The memory kept per call (the floor's fit).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedTrend {
    pub kb_per_call: f64,
    pub kb_per_call_low: f64,
    pub kb_per_call_high: f64,
    pub mb_per_1k_calls: f64,
    pub calls_spanned: f64,
}

/// One tool's memory kept per call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedPerCall {
    pub label: String,
    pub kb_per_call: f64,
    pub kb_per_call_low: f64,
    pub kb_per_call_high: f64,
    pub resolved: bool,
}

/// A process of the server's tree.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedMember {
    pub pid: u32,
    pub name: String,
    pub depth: u32,
    pub rss_mb: f64,
    pub rss_share: f64,
    pub rss_growth_mb: Option<f64>,
}

/// One sample of the server's tree.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedProbe {
    pub t_s: f64,
    pub calls_done: u64,
    pub rss_mb: f64,
    pub rss_min_mb: f64,
    pub fds: u32,
    pub threads: u32,
    pub cpu_percent: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SavedCriterion {
    pub expression: String,
    pub state: String,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub detail: String,
    pub about: Option<String>,
}

impl SavedReport {
    /// The report a run has just made, read back as a saved one would be.
    pub fn of(report: &Report) -> std::io::Result<SavedReport> {
        let json = report.to_json()?;
        SavedReport::parse(&json, "the report").map_err(std::io::Error::other)
    }

    /// A report file an earlier run wrote.
    pub fn read(path: &Path) -> Result<SavedReport, SavedError> {
        SavedReport::parse(&read_bounded(path)?, &path.display().to_string())
    }

    fn parse(bytes: &[u8], file: &str) -> Result<SavedReport, SavedError> {
        let mut reader = serde_json::Deserializer::from_slice(bytes);
        let report: SavedReport =
            serde_path_to_error::deserialize(&mut reader).map_err(|error| {
                let key = error.path().to_string();
                let inner = error.into_inner();
                SavedError::Invalid {
                    file: file.to_string(),
                    line: inner.line(),
                    column: inner.column(),
                    key,
                    why: inner.to_string(),
                }
            })?;
        reader.end().map_err(|inner| SavedError::Invalid {
            file: file.to_string(),
            line: inner.line(),
            column: inner.column(),
            key: String::new(),
            why: inner.to_string(),
        })?;
        if report.schema_version > SCHEMA_VERSION {
            return Err(SavedError::Newer {
                file: file.to_string(),
                found: report.schema_version,
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_of_the_wrong_type_is_named_with_its_line() {
        let text = b"{\n  \"scenarios\": [\n    {\"name\": \"x\", \"result\": {\"criteria\": [{\"value\": \"high\"}]}}\n  ]\n}\n";
        let error = SavedReport::parse(text, "r.json").expect_err("refused");
        let said = error.to_string();
        assert!(said.starts_with("r.json: line 3, column"), "{said}");
        assert!(
            said.contains("at scenarios[0].result.criteria[0].value"),
            "{said}"
        );
    }

    #[test]
    fn missing_fields_read_as_empty_and_a_newer_schema_is_refused() {
        let report = SavedReport::parse(b"{\"scenarios\": [{}]}", "r.json").expect("read");
        assert_eq!(report.scenarios.len(), 1);
        assert!(report.scenarios[0].result.is_none());
        let newer = SavedReport::parse(b"{\"schema_version\": 99}", "r.json");
        assert!(matches!(newer, Err(SavedError::Newer { found: 99, .. })));
        let trailing = SavedReport::parse(b"{} x", "r.json");
        assert!(matches!(trailing, Err(SavedError::Invalid { line: 1, .. })));
    }
}
