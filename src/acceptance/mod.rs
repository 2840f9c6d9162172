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
pub(crate) mod range;

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
        let status = |state, detail| CriterionStatus {
            expression: self.text.clone(),
            state,
            value,
            threshold,
            detail,
            about: self.about.clone(),
            caps: self.comparison.upper_limit_of().map(String::from),
            changes: Vec::new(),
            changes_not_listed: 0,
        };
        if let Some(reason) = used
            .iter()
            .find_map(|m| metrics::unmeasured(&m.name, &m.args, snapshot))
        {
            return CriterionStatus {
                value: None,
                ..status(CriterionState::NotMeasured, reason)
            };
        }
        let settling = used
            .iter()
            .find_map(|m| metrics::settling(&m.name, &m.args, snapshot));
        let (state, caveat) = self.judge(snapshot, value.zip(threshold), settling, finished);
        let mut parts: Vec<String> = Vec::new();
        for call in used {
            let shown = call.to_string();
            if parts.iter().any(|p| p.starts_with(&format!("{shown} ="))) {
                continue;
            }
            let unit = metrics::find(&call.name).map(|d| d.unit).unwrap_or("");
            let which = metrics::which(&call.name, snapshot)
                .map_or(String::new(), |label| format!(" ({label})"));
            let interval = metrics::range(&call.name, &call.args, snapshot)
                .filter(|r| r.low < r.high)
                .map_or(String::new(), |r| {
                    format!(
                        " (95 %: {} to {})",
                        format_value(r.low),
                        format_value(r.high)
                    )
                });
            parts.push(match lookup(call) {
                Some(v) => format!(
                    "{shown} = {}{}{which}{interval}",
                    format_value(v),
                    unit_suffix(unit)
                ),
                None => format!("{shown} = no data yet"),
            });
        }
        parts.extend(caveat);
        status(state, parts.join("; "))
    }

    /// The state, and why it is not (yet) a plain verdict when it is not.
    /// `figures` are the two sides' values, when both have one. A comparison
    /// over figures with an interval is decided only when it holds, or
    /// fails, over the whole interval (`range`).
    fn judge(
        &self,
        snapshot: &Snapshot,
        figures: Option<(f64, f64)>,
        settling: Option<String>,
        finished: bool,
    ) -> (CriterionState, Option<String>) {
        use CriterionState::*;
        let lookup = |m: &MetricCall| metrics::range(&m.name, &m.args, snapshot);
        let decided = match (
            self.comparison.lhs.eval_range(&lookup),
            self.comparison.rhs.eval_range(&lookup),
        ) {
            (Some(lhs), Some(rhs)) => self.comparison.cmp.decide(lhs, rhs),
            // Unbounded (a divisor that may be zero): the figures decide.
            _ => figures.map(|(v, t)| self.comparison.cmp.holds(v, t)),
        };
        const SPANS: &str = "the 95 % interval spans the limit: a longer run narrows it";
        match (finished, figures, settling) {
            (false, _, Some(why)) => (Settling, Some(format!("settling: {why}"))),
            (false, None, None) => (Pending, None),
            (false, Some(_), None) => match decided {
                Some(true) => (Passing, None),
                Some(false) => (Failing, None),
                None => (Settling, Some(format!("settling: {SPANS}"))),
            },
            // A check that never looked at anything has not passed; a
            // figure withheld for want of evidence is not measured.
            (true, None, None) => (Fail, None),
            (true, None, Some(why)) => (
                NotMeasured,
                Some(format!("not settled by the end of the run: {why}")),
            ),
            // At the end, a figure is judged as it stands, its caveat shown.
            (true, Some(_), why) => {
                let caveat = why.map(|why| format!("not settled: {why}"));
                match decided {
                    Some(true) => (Pass, caveat),
                    Some(false) => (Fail, caveat),
                    None => (NotMeasured, Some(format!("undecided: {SPANS}"))),
                }
            }
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
    use crate::stats::trend::Settling as TrendSettling;
    use crate::stats::{
        CallStats, ChurnSnapshot, LabelPerCall, NotAttributed, OutcomeCounts, PhaseSnapshot,
        RssTrend,
    };

    fn phase(name: &str, ok: u64, failed: u64) -> PhaseSnapshot {
        let outcomes = OutcomeCounts {
            ok,
            tool_error: failed,
            ..Default::default()
        };
        PhaseSnapshot {
            duration_s: 1.0,
            ..PhaseSnapshot::of_calls(
                name,
                CallStats {
                    calls: ok + failed,
                    outcomes,
                    success_rate: outcomes.success_rate(),
                    ..CallStats::default()
                },
            )
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

    fn trend(low: f64, high: f64, settling: Option<TrendSettling>) -> RssTrend {
        RssTrend {
            samples: 20,
            calls_spanned: 1000.0,
            settling,
            ..RssTrend::between(low, high)
        }
    }

    #[test]
    fn a_memory_trend_settles_before_it_passes_or_fails() {
        use CriterionState::*;
        let c = Criterion::compile("rss_trend_kb_per_call <= 1", &[], Some(&[])).unwrap();
        let mut snapshot = Snapshot::default();
        snapshot.resources.sampled = true;
        let judged = |snapshot: &Snapshot, finished| {
            let status = c.evaluate(snapshot, finished);
            (status.state, status.detail)
        };
        // The first rise of a garbage-collected heap: not yet evidence.
        let first_rise = TrendSettling::FirstRise {
            rising_s: 4.0,
            needed_s: 15.0,
        };
        snapshot.resources.rss_trend = Some(trend(50.0, 60.0, Some(first_rise)));
        let (state, detail) = judged(&snapshot, false);
        assert_eq!(state, Settling);
        assert!(
            detail.contains("settling: no collection seen in 4.0 s"),
            "{detail}"
        );
        assert!(detail.contains("(95 %: 50 to 60)"), "{detail}");
        // At the end, the figure is judged as it stands, the caveat shown.
        let (state, detail) = judged(&snapshot, true);
        assert_eq!(state, Fail);
        assert!(detail.contains("not settled: no collection"), "{detail}");
        // Settled: the interval must clear the limit on one side.
        snapshot.resources.rss_trend = Some(trend(0.6, 1.4, None));
        let (state, detail) = judged(&snapshot, false);
        assert_eq!(state, Settling);
        assert!(detail.contains("spans the limit"), "{detail}");
        assert_eq!(judged(&snapshot, true).0, NotMeasured);
        snapshot.resources.rss_trend = Some(trend(1.1, 1.4, None));
        assert_eq!(judged(&snapshot, false).0, Failing);
        assert_eq!(judged(&snapshot, true).0, Fail);
        snapshot.resources.rss_trend = Some(trend(-0.2, 0.3, None));
        assert_eq!(judged(&snapshot, false).0, Passing);
        assert_eq!(judged(&snapshot, true).0, Pass);
        // The same in MB per 1000 calls.
        let per_1k = Criterion::compile("rss_trend_mb_per_1k_calls <= 0.5", &[], None).unwrap();
        assert_eq!(per_1k.evaluate(&snapshot, false).state, Passing);
        snapshot.resources.rss_trend = Some(trend(0.3, 0.6, None));
        assert_eq!(per_1k.evaluate(&snapshot, false).state, Settling);
    }

    #[test]
    fn a_per_tool_figure_too_noisy_yet_settles_and_a_fixed_mix_is_not_measured() {
        use CriterionState::*;
        let c = Criterion::compile("rss_kb_per_call_worst <= 1", &[], None).unwrap();
        let mut snapshot = Snapshot::default();
        snapshot.resources.sampled = true;
        snapshot.resources.retained_by_label_unmeasured = Some(NotAttributed::TooFewPoints {
            points: 4,
            labels: 3,
        });
        assert_eq!(c.evaluate(&snapshot, false).state, Settling);
        let end = c.evaluate(&snapshot, true);
        assert_eq!(end.state, NotMeasured);
        assert!(
            end.detail.contains("not settled by the end"),
            "{}",
            end.detail
        );
        snapshot.resources.retained_by_label_unmeasured = Some(NotAttributed::Inseparable);
        assert_eq!(c.evaluate(&snapshot, false).state, NotMeasured);
        // The worst tool's interval reaches as high as any tool's.
        snapshot.resources.retained_by_label_unmeasured = None;
        let figure = |label: &str, per_call: f64, half: f64| LabelPerCall {
            label: label.into(),
            per_call,
            low: per_call - half,
            high: per_call + half,
            resolved: half <= 0.5,
        };
        snapshot.resources.retained_by_label = vec![figure("a", 0.2, 0.1), figure("b", 0.1, 1.0)];
        assert_eq!(c.evaluate(&snapshot, false).state, Settling);
        // Not resolved (±1 on 3), b's interval cannot show it keeps
        // anything: it may still be a noisy floor's bias.
        snapshot.resources.retained_by_label = vec![figure("a", 0.2, 0.1), figure("b", 3.0, 1.0)];
        assert_eq!(c.evaluate(&snapshot, false).state, Settling);
        assert_eq!(c.evaluate(&snapshot, true).state, NotMeasured);
        snapshot.resources.retained_by_label = vec![figure("a", 0.2, 0.1), figure("b", 3.0, 0.3)];
        let failing = c.evaluate(&snapshot, false);
        assert_eq!(failing.state, Failing);
        assert!(failing.detail.contains("(b)"), "{}", failing.detail);
        // While the memory's floor is not known (a heap's first rise), the
        // same figures settle; at the end they are judged as they stand.
        snapshot.resources.rss_trend = Some(crate::stats::RssTrend::on_a_first_rise(1.0, 0.5));
        assert_eq!(c.evaluate(&snapshot, false).state, Settling);
        let end = c.evaluate(&snapshot, true);
        assert_eq!(end.state, Fail);
        assert!(end.detail.contains("not settled"), "{}", end.detail);
        // Descriptors do not saw: their figures do not wait for the floor.
        let fds = Criterion::compile("fds_per_call_worst <= 1", &[], None).unwrap();
        snapshot.resources.fds_by_label = snapshot.resources.retained_by_label.clone();
        assert_eq!(fds.evaluate(&snapshot, false).state, Failing);
    }

    #[test]
    fn memory_kept_per_session_is_judged_over_its_interval() {
        use CriterionState::*;
        let phases = vec!["churn".to_string()];
        let c = Criterion::compile("retained_kb_per_session(churn) <= 12", &phases, None).unwrap();
        let mut snapshot = Snapshot {
            phases: vec![phase("churn", 10, 0)],
            ..Snapshot::default()
        };
        let kept = |low: f64, high: f64| ChurnSnapshot {
            sessions: 500,
            retained_kb_per_session: Some((low + high) / 2.0),
            retained_kb_low: Some(low),
            retained_kb_high: Some(high),
            collections: 4,
            cycle_sessions: None,
            retained_unmeasured: None,
            retained_settling: None,
        };
        snapshot.phases[0].churn = Some(kept(5.0, 15.0));
        assert_eq!(c.evaluate(&snapshot, false).state, Settling);
        assert_eq!(c.evaluate(&snapshot, true).state, NotMeasured);
        snapshot.phases[0].churn = Some(kept(13.0, 15.0));
        assert_eq!(c.evaluate(&snapshot, false).state, Failing);
        snapshot.phases[0].churn = Some(kept(5.0, 11.0));
        assert_eq!(c.evaluate(&snapshot, true).state, Pass);
        // A heap's first rise, while the phase runs: settling, however sure
        // the interval, never FAILING.
        let mut rising = kept(300.0, 340.0);
        rising.retained_settling = Some("no collection seen in 3.0 s".into());
        snapshot.phases[0].churn = Some(rising);
        assert_eq!(c.evaluate(&snapshot, false).state, Settling);
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
