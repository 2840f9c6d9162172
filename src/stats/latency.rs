//! Latency histograms: HdrHistogram at microsecond resolution, 3 significant
//! digits, from 1 µs to 1 hour. Fixed memory whatever the number of calls.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency recorded exactly; anything longer is clamped to it.
const MAX_MICROS: u64 = 3_600_000_000;

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    histogram: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            // 1 µs .. 1 h with 3 significant digits: valid bounds, cannot fail.
            histogram: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .expect("static histogram bounds are valid"),
        }
    }
}

impl LatencyHistogram {
    pub fn record(&mut self, micros: u64) {
        self.histogram
            .saturating_record(micros.clamp(1, MAX_MICROS));
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    pub fn reset(&mut self) {
        self.histogram.reset();
    }

    /// The latency at `quantile` (0..=1) in milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn summary(&self) -> Option<LatencySummary> {
        if self.histogram.is_empty() {
            return None;
        }
        let h = &self.histogram;
        Some(LatencySummary {
            count: h.len(),
            min_ms: h.min() as f64 / 1000.0,
            mean_ms: h.mean() / 1000.0,
            stddev_ms: h.stdev() / 1000.0,
            p50_ms: self.quantile_ms(0.50),
            p90_ms: self.quantile_ms(0.90),
            p95_ms: self.quantile_ms(0.95),
            p99_ms: self.quantile_ms(0.99),
            p999_ms: self.quantile_ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        })
    }
}

/// Percentiles of a set of calls, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub stddev_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_known_data() {
        let mut h = LatencyHistogram::default();
        for micros in 1..=10_000u64 {
            h.record(micros);
        }
        let s = h.summary().unwrap();
        assert_eq!(s.count, 10_000);
        // 3 significant digits: within 0.1 %.
        assert!((s.p50_ms - 5.0).abs() < 0.01, "{}", s.p50_ms);
        assert!((s.p99_ms - 9.9).abs() < 0.01, "{}", s.p99_ms);
        assert!((s.max_ms - 10.0).abs() < 0.01, "{}", s.max_ms);
        assert!(LatencyHistogram::default().summary().is_none());
    }
}
