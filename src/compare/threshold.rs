//! Regression thresholds: `--fail-on "p95 +10%"` (a rise of more than 10 %),
//! `--fail-on "rss_trend_kb_per_call +0.5"` (a rise of more than 0.5 in the
//! metric's unit), `--fail-on "throughput -5%"` (a fall). A difference
//! crosses one when it is larger than the threshold, in its direction, and
//! not within noise (a figure with no interval is judged on its size).

use super::{Comparison, Figure, Noise, ScenarioComparison};
use crate::protocol::untrusted;

/// The metrics a threshold can name, with what they are.
pub const METRICS: &[(&str, &str)] = &[
    ("p50", "median latency, ms (tested on the histograms)"),
    ("p90", "90th percentile latency, ms (tested)"),
    ("p95", "95th percentile latency, ms (tested)"),
    ("p99", "99th percentile latency, ms (tested)"),
    ("p999", "99.9th percentile latency, ms (tested)"),
    ("mean", "mean latency, ms (tested)"),
    ("max", "highest latency, ms"),
    ("throughput", "calls per second"),
    (
        "success_rate",
        "fraction of calls that succeeded, 0..1 (tested)",
    ),
    ("error_rate", "fraction of calls that failed, 0..1 (tested)"),
    ("errors", "calls that failed"),
    (
        "rss_trend_kb_per_call",
        "memory retained per call, KB (tested on the trends' intervals)",
    ),
    (
        "rss_kb_per_call",
        "one tool's memory retained per call, KB (tested)",
    ),
    ("rss_growth_mb", "server RSS growth, MB"),
    ("rss_max_mb", "highest server RSS, MB"),
    ("fd_max", "most open file descriptors"),
    ("threads_max", "most threads"),
    ("processes_max", "most processes in the server's tree"),
];

/// How far a figure may move.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// A fraction of the base figure: 0.1 for `+10%`.
    Relative(f64),
    /// In the metric's unit: 0.5 for `+0.5`.
    Absolute(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As the user wrote it (trimmed).
    pub text: String,
    pub metric: &'static str,
    /// A rise (`+`) or a fall (`-`) crosses it.
    pub rise: bool,
    /// How much it may move that way (never negative).
    pub limit: Limit,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ThresholdError {
    #[error(
        "threshold {0:?}: write a metric and a signed change, as \"p95 +10%\" (a rise of more than 10 %) or \"throughput -5%\" (a fall)"
    )]
    Shape(String),
    #[error("threshold {text:?}: no metric {metric:?}; known: {known}")]
    UnknownMetric {
        text: String,
        metric: String,
        known: String,
    },
    #[error(
        "threshold {0:?}: the change needs its direction, + for a rise or - for a fall (\"p95 +10%\")"
    )]
    NoSign(String),
    #[error("threshold {0:?}: {1:?} is not a finite number")]
    Number(String, String),
}

impl std::str::FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(written: &str) -> Result<Self, Self::Err> {
        // Errors quote what was written, cut: it may come from a report.
        let text = &untrusted::quote(written.trim(), 80);
        let shape = || ThresholdError::Shape(text.to_string());
        // "p95 +10%", or "p95+10%": the metric ends where the change starts.
        let split = text
            .find(|c: char| c.is_whitespace() || "+-−".contains(c))
            .ok_or_else(shape)?;
        let (metric, change) = text.split_at(split);
        let change: String = change.chars().filter(|c| !c.is_whitespace()).collect();
        let metric = METRICS
            .iter()
            .map(|(name, _)| *name)
            .find(|name| *name == metric)
            .ok_or_else(|| ThresholdError::UnknownMetric {
                text: text.to_string(),
                metric: metric.to_string(),
                known: METRICS
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let rise = match change.chars().next() {
            Some('+') => true,
            Some('-') | Some('−') => false,
            Some(_) => return Err(ThresholdError::NoSign(text.to_string())),
            None => return Err(shape()),
        };
        let unsigned = change.trim_start_matches(['+', '-', '−']);
        let (number, relative) = match unsigned.strip_suffix('%') {
            Some(number) => (number, true),
            None => (unsigned, false),
        };
        let amount: f64 = number
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| ThresholdError::Number(text.to_string(), number.to_string()))?;
        Ok(Threshold {
            // As it is shown: one line, whatever spacing it was written with.
            text: format!(
                "{metric} {}{number}{}",
                if rise { '+' } else { '-' },
                if relative { "%" } else { "" }
            ),
            metric,
            rise,
            limit: if relative {
                Limit::Relative(amount / 100.0)
            } else {
                Limit::Absolute(amount)
            },
        })
    }
}

impl Threshold {
    /// Whether the figure's difference crosses this threshold.
    pub fn crossed_by(&self, figure: &Figure) -> bool {
        if figure.metric != self.metric || figure.noise == Noise::Within {
            return false;
        }
        let (moved, limit) = match self.limit {
            Limit::Relative(limit) => (figure.relative(), limit),
            Limit::Absolute(limit) => (figure.change(), limit),
        };
        let Some(moved) = moved else { return false };
        if self.rise {
            moved > limit
        } else {
            moved < -limit
        }
    }
}

/// A difference that crossed a threshold.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Crossing {
    pub scenario: String,
    pub part: String,
    pub threshold: String,
    pub figure: Figure,
}

/// Thresholds written as their text (in the JSON comparison).
pub fn texts<S: serde::Serializer>(
    thresholds: &[Threshold],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(thresholds.iter().map(|t| &t.text))
}

/// The thresholds that judge `scenario`: the command line's, then the
/// scenario's own that the command line does not repeat.
pub fn judging<'a>(given: &'a [Threshold], scenario: &'a ScenarioComparison) -> Vec<&'a Threshold> {
    let mut all: Vec<&Threshold> = given.iter().collect();
    for own in &scenario.regressions {
        if !given
            .iter()
            .any(|t| t.metric == own.metric && t.rise == own.rise && t.limit == own.limit)
        {
            all.push(own);
        }
    }
    all
}

/// Every threshold crossed in the comparison, in the order of the tables:
/// `given` (the command line's) and each scenario's own.
pub fn crossings(comparison: &Comparison, given: &[Threshold]) -> Vec<Crossing> {
    let mut found = Vec::new();
    for scenario in &comparison.scenarios {
        let thresholds = judging(given, scenario);
        for part in scenario.parts.iter().filter(|p| p.judged()) {
            for figure in &part.figures {
                for threshold in thresholds.iter().filter(|t| t.crossed_by(figure)) {
                    found.push(Crossing {
                        scenario: scenario.name.clone(),
                        part: part.title(),
                        threshold: threshold.text.clone(),
                        figure: figure.clone(),
                    });
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Unit;

    fn figure(metric: &'static str, base: f64, new: f64, noise: Noise) -> Figure {
        Figure {
            metric,
            unit: Unit::Ms,
            base: Some(base),
            new: Some(new),
            noise,
            unsettled: false,
        }
    }

    #[test]
    fn thresholds_read_as_written() {
        let t: Threshold = "p95 +10%".parse().unwrap();
        assert_eq!(
            (t.metric, t.rise, t.limit),
            ("p95", true, Limit::Relative(0.1))
        );
        let t: Threshold = " rss_trend_kb_per_call  +0.5 ".parse().unwrap();
        assert_eq!(t.limit, Limit::Absolute(0.5));
        assert_eq!(t.text, "rss_trend_kb_per_call +0.5");
        let t: Threshold = "p99+25%".parse().unwrap();
        assert_eq!(
            (t.metric, t.rise, t.limit),
            ("p99", true, Limit::Relative(0.25))
        );
        let t: Threshold = "throughput - 5 %".parse().unwrap();
        assert_eq!((t.rise, t.limit), (false, Limit::Relative(0.05)));
    }

    #[test]
    fn a_malformed_threshold_says_what_to_write() {
        let error = |text: &str| text.parse::<Threshold>().unwrap_err().to_string();
        assert!(error("p95").contains("\"p95 +10%\""), "{}", error("p95"));
        assert!(error("p96 +10%").contains("known: p50, p90"));
        assert!(error("p95 10%").contains("+ for a rise"));
        assert!(error("p95 +ten%").contains("\"ten\" is not a finite number"));
        assert!(error("p95 +NaN%").contains("not a finite number"));
        assert!(error("p95 +inf").contains("not a finite number"));
        let long = error(&format!("p95 +{}%", "9".repeat(100_000)));
        assert!(long.len() < 400, "{long}");
    }

    #[test]
    fn a_rise_crosses_only_beyond_its_size_and_noise() {
        let t: Threshold = "p95 +10%".parse().unwrap();
        assert!(t.crossed_by(&figure("p95", 10.0, 11.5, Noise::Beyond)));
        assert!(!t.crossed_by(&figure("p95", 10.0, 10.5, Noise::Beyond)));
        assert!(!t.crossed_by(&figure("p95", 10.0, 11.5, Noise::Within)));
        assert!(!t.crossed_by(&figure("p99", 10.0, 11.5, Noise::Beyond)));
        assert!(!t.crossed_by(&figure("p95", 10.0, 5.0, Noise::Beyond)));
        let fall: Threshold = "throughput -5%".parse().unwrap();
        assert!(fall.crossed_by(&figure("throughput", 100.0, 90.0, Noise::Untested)));
        assert!(!fall.crossed_by(&figure("throughput", 100.0, 120.0, Noise::Untested)));
        let errors: Threshold = "errors +0%".parse().unwrap();
        assert!(errors.crossed_by(&figure("errors", 0.0, 3.0, Noise::Untested)));
        assert!(!errors.crossed_by(&figure("errors", 0.0, 0.0, Noise::Untested)));
        let leak: Threshold = "rss_trend_kb_per_call +0.5".parse().unwrap();
        assert!(leak.crossed_by(&figure("rss_trend_kb_per_call", 0.0, 64.0, Noise::Beyond)));
        assert!(!leak.crossed_by(&figure("rss_trend_kb_per_call", 0.0, 64.0, Noise::Within)));
    }
}
