//! Acceptance criteria: expressions over a snapshot's figures, judged live.
//!
//! While the run goes on, each criterion is PENDING (a figure it needs has no
//! data yet), PASSING or FAILING; once the run ends it is PASS or FAIL. A
//! criterion still without data at the end fails: a check that never looked at
//! anything has not passed. The one exception is a server-resource criterion
//! when mcpstorm knows no server process (a bare HTTP URL): it is NOT
//! MEASURED, shown as such, and neither passes nor fails the run.

pub(crate) mod expr;
pub(crate) mod metrics;

use crate::stats::Snapshot;
use expr::{Comparison, MetricCall};

// A criterion's state and status are part of a snapshot: they live with it.
pub use crate::stats::{CriterionState, CriterionStatus};

/// A criterion checked against the scenario it belongs to.
#[derive(Debug, Clone)]
pub struct Criterion {
    pub text: String,
    pub comparison: Comparison,
    /// The scenario's words on why it matters (`{ about = "…" }`).
    pub about: Option<String>,
}

impl Criterion {
    /// Parse and check every metric name and scope. `Err` is a sentence for the
    /// user. `labels` is `None` when any label may turn up (an automatic mix).
    pub fn compile(
        text: &str,
        phases: &[String],
        labels: Option<&[String]>,
    ) -> Result<Criterion, String> {
        let comparison = expr::parse(text).map_err(|e| e.to_string())?;
        let mut used = comparison.lhs.metrics();
        used.extend(comparison.rhs.metrics());
        for call in used {
            let def = metrics::find(&call.name).ok_or_else(|| {
                format!(
                    "unknown metric `{}` (see `mcpstorm metrics` for the list)",
                    call.name
                )
            })?;
            metrics::check_scope(def, &call.args, phases, labels)?;
        }
        Ok(Criterion {
            text: text.to_string(),
            comparison,
            about: None,
        })
    }

    pub fn evaluate(&self, snapshot: &Snapshot, finished: bool) -> CriterionStatus {
        let lookup = |m: &MetricCall| metrics::value(&m.name, &m.args, snapshot);
        let value = self.comparison.lhs.eval(&lookup);
        let threshold = self.comparison.rhs.eval(&lookup);
        let mut used = self.comparison.lhs.metrics();
        used.extend(self.comparison.rhs.metrics());
        if let Some(reason) = used
            .iter()
            .find_map(|m| metrics::unmeasured(&m.name, &m.args, snapshot))
        {
            return CriterionStatus {
                expression: self.text.clone(),
                state: CriterionState::NotMeasured,
                value: None,
                threshold,
                detail: reason,
                about: self.about.clone(),
                caps: self.comparison.upper_limit_of().map(String::from),
            };
        }
        let state = match (value, threshold, finished) {
            (Some(v), Some(t), false) if self.comparison.cmp.holds(v, t) => CriterionState::Passing,
            (Some(_), Some(_), false) => CriterionState::Failing,
            (Some(v), Some(t), true) if self.comparison.cmp.holds(v, t) => CriterionState::Pass,
            (_, _, true) => CriterionState::Fail,
            _ => CriterionState::Pending,
        };
        let mut parts: Vec<String> = Vec::new();
        for call in used {
            let shown = call.to_string();
            if parts.iter().any(|p| p.starts_with(&format!("{shown} ="))) {
                continue;
            }
            let unit = metrics::find(&call.name).map(|d| d.unit).unwrap_or("");
            let which = metrics::which(&call.name, snapshot)
                .map_or(String::new(), |label| format!(" ({label})"));
            parts.push(match lookup(call) {
                Some(v) => format!("{shown} = {}{}{which}", format_value(v), unit_suffix(unit)),
                None => format!("{shown} = no data yet"),
            });
        }
        CriterionStatus {
            expression: self.text.clone(),
            state,
            value,
            threshold,
            detail: parts.join("; "),
            about: self.about.clone(),
            caps: self.comparison.upper_limit_of().map(String::from),
        }
    }
}

fn unit_suffix(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    }
}

/// Figures shown with sensible precision: 3 significant digits below 100.
pub fn format_value(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e12 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// All of a scenario's criteria, judged together.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    pub list: Vec<Criterion>,
}

impl Criteria {
    pub fn evaluate(&self, snapshot: &Snapshot, finished: bool) -> Vec<CriterionStatus> {
        self.list
            .iter()
            .map(|c| c.evaluate(snapshot, finished))
            .collect()
    }
}

/// The aggregator judges each snapshot through this seam, knowing nothing of
/// the criterion language.
impl crate::stats::Judge for Criteria {
    fn judge(&self, snapshot: &Snapshot, finished: bool) -> Vec<CriterionStatus> {
        self.evaluate(snapshot, finished)
    }
}

/// True when every criterion passed or could not be measured (which is
/// shown, and neither passes nor fails the run); vacuously true with none.
pub fn all_passed(statuses: &[CriterionStatus]) -> bool {
    statuses
        .iter()
        .all(|s| matches!(s.state, CriterionState::Pass | CriterionState::NotMeasured))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{CallStats, OutcomeCounts, PhaseSnapshot, PhaseState};

    fn phase(name: &str, ok: u64, failed: u64) -> PhaseSnapshot {
        let outcomes = OutcomeCounts {
            ok,
            tool_error: failed,
            ..Default::default()
        };
        PhaseSnapshot {
            name: name.into(),
            warmup: false,
            load: String::new(),
            state: PhaseState::Done,
            planned_calls: None,
            started_s: None,
            duration_s: 1.0,
            stats: CallStats {
                calls: ok + failed,
                outcomes,
                success_rate: outcomes.success_rate(),
                latency: None,
                throughput_per_s: 0.0,
            },
            per_label: Vec::new(),
            late_sends: 0,
            max_send_lag_ms: 0.0,
            churn: None,
            bad_inputs: None,
        }
    }

    #[test]
    fn states_move_from_pending_to_a_verdict() {
        let phases = vec!["warmup".to_string(), "load".to_string()];
        let c = Criterion::compile("success_rate(load) >= 0.99", &phases, Some(&[])).unwrap();
        let mut snapshot = Snapshot::default();
        assert_eq!(c.evaluate(&snapshot, false).state, CriterionState::Pending);
        assert_eq!(c.evaluate(&snapshot, true).state, CriterionState::Fail);
        snapshot.phases = vec![phase("warmup", 10, 0), phase("load", 95, 5)];
        let status = c.evaluate(&snapshot, false);
        assert_eq!(status.state, CriterionState::Failing);
        assert_eq!(status.value, Some(0.95));
        assert!(
            status.detail.contains("success_rate(load) = 0.9500"),
            "{}",
            status.detail
        );
        snapshot.phases[1] = phase("load", 100, 0);
        assert_eq!(c.evaluate(&snapshot, false).state, CriterionState::Passing);
        assert_eq!(c.evaluate(&snapshot, true).state, CriterionState::Pass);
    }

    #[test]
    fn compile_rejects_unknown_metrics_phases_and_labels() {
        let phases = vec!["load".to_string()];
        let labels = vec!["echo".to_string()];
        let labels = Some(labels.as_slice());
        let err = Criterion::compile("rss_groth_mb < 5", &phases, labels).unwrap_err();
        assert!(err.contains("unknown metric `rss_groth_mb`"), "{err}");
        let err = Criterion::compile("p95(warmup) < 5", &phases, labels).unwrap_err();
        assert!(err.contains("unknown phase `warmup`"), "{err}");
        let err = Criterion::compile("p95(load, add) < 5", &phases, labels).unwrap_err();
        assert!(err.contains("unknown tool or method `add`"), "{err}");
        let err = Criterion::compile("fd_max(load) < 5", &phases, labels).unwrap_err();
        assert!(err.contains("run-wide"), "{err}");
        assert!(Criterion::compile("p95(load, echo) < 5", &phases, labels).is_ok());
        assert!(Criterion::compile("p95(load, add) < 5", &phases, None).is_ok());
    }
}
