//! Latency histograms: HdrHistogram at microsecond resolution, 3 significant
//! digits, from 1 µs to 1 hour. Fixed memory whatever the number of calls.
//!
//! Beside the histogram, exact sums of the recorded microseconds and of
//! their squares: the mean and standard deviation come from them, exact and
//! without a walk over the histogram's ~20,000 buckets at every snapshot.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency recorded exactly; anything longer is clamped to it.
const MAX_MICROS: u64 = 3_600_000_000;

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    histogram: Histogram<u64>,
    /// Sum of the recorded microseconds (as clamped into the histogram).
    sum_us: u128,
    /// Sum of their squares.
    sum_squares_us: u128,
}

/// Longest encoded histogram read back: a full one at mcpstorm's bounds
/// takes a few tens of KB.
pub const MOST_ENCODED_BYTES: usize = 4 << 20;

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            // 1 µs .. 1 h with 3 significant digits: valid bounds, cannot fail.
            histogram: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .expect("static histogram bounds are valid"),
            sum_us: 0,
            sum_squares_us: 0,
        }
    }
}

impl LatencyHistogram {
    pub fn record(&mut self, micros: u64) {
        let micros = micros.clamp(1, MAX_MICROS);
        self.histogram.saturating_record(micros);
        self.sum_us += u128::from(micros);
        self.sum_squares_us = self
            .sum_squares_us
            .saturating_add(u128::from(micros) * u128::from(micros));
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
        self.sum_us += other.sum_us;
        self.sum_squares_us = self.sum_squares_us.saturating_add(other.sum_squares_us);
    }

    pub fn reset(&mut self) {
        self.histogram.reset();
        self.sum_us = 0;
        self.sum_squares_us = 0;
    }

    /// The latencies at `quantiles` (each 0..=1, ascending) in milliseconds,
    /// found in one pass over the histogram.
    pub fn quantiles_ms<const N: usize>(&self, quantiles: [f64; N]) -> [f64; N] {
        let mut values = [0.0; N];
        for (value, micros) in values
            .iter_mut()
            .zip(self.histogram.value_at_quantiles(quantiles))
        {
            *value = micros as f64 / 1000.0;
        }
        values
    }

    /// Every recorded bucket as `[latency µs, calls]`, ascending: the
    /// bucket's highest value (what its percentiles read), so a histogram
    /// rebuilt from these pairs gives the same percentiles.
    pub fn recorded_us(&self) -> Vec<[u64; 2]> {
        self.histogram
            .iter_recorded()
            .map(|bucket| {
                [
                    self.histogram
                        .highest_equivalent(bucket.value_iterated_to()),
                    bucket.count_at_value(),
                ]
            })
            .collect()
    }

    /// A histogram holding what [`LatencyHistogram::recorded_us`] gave
    /// (exactly: each bucket's value falls in its own bucket again).
    pub fn from_recorded(buckets: &[[u64; 2]]) -> LatencyHistogram {
        let mut histogram = LatencyHistogram::default();
        for &[micros, count] in buckets {
            let micros = micros.clamp(1, MAX_MICROS);
            histogram.histogram.saturating_record_n(micros, count);
            let micros = u128::from(micros);
            histogram.sum_us = histogram.sum_us.saturating_add(micros * u128::from(count));
            histogram.sum_squares_us = histogram
                .sum_squares_us
                .saturating_add(micros * micros * u128::from(count));
        }
        histogram
    }

    /// The histogram in HdrHistogram's V2 compressed encoding, base64 (as
    /// its log files hold one): lossless, read back by
    /// [`LatencyHistogram::from_v2_base64`] and by HdrHistogram's own tools.
    pub fn to_v2_base64(&self) -> String {
        use base64::Engine;
        use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
        let mut bytes = Vec::new();
        // Into a Vec, of a histogram with valid bounds: it cannot fail.
        let _ = V2DeflateSerializer::new().serialize(&self.histogram, &mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// A histogram from [`LatencyHistogram::to_v2_base64`]'s text (outside
    /// input: at most [`MOST_ENCODED_BYTES`], and its values must fit
    /// mcpstorm's bounds). The sums behind the mean and deviation are not
    /// in the encoding: they are rebuilt from the buckets.
    pub fn from_v2_base64(text: &str) -> Result<LatencyHistogram, String> {
        use base64::Engine;
        use hdrhistogram::serialization::Deserializer;
        if text.len() > MOST_ENCODED_BYTES {
            return Err(format!(
                "an encoded histogram over {} KB",
                MOST_ENCODED_BYTES >> 10
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let read: Histogram<u64> = Deserializer::new()
            .deserialize(&mut std::io::Cursor::new(bytes))
            .map_err(|e| format!("not an HdrHistogram V2 encoding: {e:?}"))?;
        let mut buckets = Vec::new();
        for bucket in read.iter_recorded() {
            let micros = read.highest_equivalent(bucket.value_iterated_to());
            if micros > MAX_MICROS {
                return Err(format!("a latency of {micros} µs, beyond an hour"));
            }
            buckets.push([micros, bucket.count_at_value()]);
        }
        Ok(LatencyHistogram::from_recorded(&buckets))
    }

    pub fn summary(&self) -> Option<LatencySummary> {
        if self.histogram.is_empty() {
            return None;
        }
        let h = &self.histogram;
        let count = h.len() as f64;
        let mean_us = self.sum_us as f64 / count;
        let variance = (self.sum_squares_us as f64 / count - mean_us * mean_us).max(0.0);
        let [p50_ms, p90_ms, p95_ms, p99_ms, p999_ms] =
            self.quantiles_ms([0.50, 0.90, 0.95, 0.99, 0.999]);
        Some(LatencySummary {
            count: h.len(),
            min_ms: h.min() as f64 / 1000.0,
            mean_ms: mean_us / 1000.0,
            stddev_ms: variance.sqrt() / 1000.0,
            p50_ms,
            p90_ms,
            p95_ms,
            p99_ms,
            p999_ms,
            max_ms: h.max() as f64 / 1000.0,
        })
    }
}

/// Two [`LatencyHistogram::recorded_us`] lists as one: the buckets of the
/// sum of their histograms (a merge of two ascending lists).
pub fn add_recorded(first: &[[u64; 2]], second: &[[u64; 2]]) -> Vec<[u64; 2]> {
    let mut sum = Vec::with_capacity(first.len() + second.len());
    let (mut i, mut j) = (0, 0);
    while i < first.len() || j < second.len() {
        match (first.get(i), second.get(j)) {
            (Some(x), Some(y)) if x[0] == y[0] => {
                sum.push([x[0], x[1].saturating_add(y[1])]);
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x[0] < y[0] => {
                sum.push(*x);
                i += 1;
            }
            (Some(x), None) => {
                sum.push(*x);
                i += 1;
            }
            (_, Some(y)) => {
                sum.push(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    sum
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
    fn the_v2_encoding_reads_back_the_same_histogram_and_merges_exactly() {
        // Four "segments" of latencies, each encoded alone, decoded and
        // added: the percentiles of one histogram of all the values.
        let mut all = LatencyHistogram::default();
        let mut merged = LatencyHistogram::default();
        for segment in 0..4u64 {
            let mut part = LatencyHistogram::default();
            for i in 0..2_500u64 {
                let micros = 100 + (i * 7919 + segment * 104_729) % 250_000;
                part.record(micros);
                all.record(micros);
            }
            let text = part.to_v2_base64();
            let back = LatencyHistogram::from_v2_base64(&text).unwrap();
            assert_eq!(back.recorded_us(), part.recorded_us());
            merged.add(&back);
        }
        assert_eq!(merged.recorded_us(), all.recorded_us());
        let (m, a) = (merged.summary().unwrap(), all.summary().unwrap());
        assert_eq!(
            (m.count, m.p50_ms, m.p99_ms, m.max_ms),
            (a.count, a.p50_ms, a.p99_ms, a.max_ms)
        );
        // The mean from bucket values, within a bucket's width (0.1 %).
        assert!((m.mean_ms - a.mean_ms).abs() <= a.mean_ms * 1e-3);
    }

    #[test]
    fn windows_merged_read_the_percentiles_of_all_their_calls() {
        // Sixty one-second windows of different latencies, merged pairwise
        // as a full time line is: the merged point's percentiles are those
        // of one histogram of every call (not the worse of two).
        use crate::stats::series::Mergeable;
        use crate::stats::snapshot::WindowPoint;
        let mut all = LatencyHistogram::default();
        let mut merged: Option<WindowPoint> = None;
        for second in 0..60u64 {
            let mut window = LatencyHistogram::default();
            for i in 0..(50 + second * 7) {
                let micros = 200 + (i * 7919 + second * 104_729) % (1_000 * (second + 1));
                window.record(micros);
                all.record(micros);
            }
            let point = WindowPoint::of(second as f64 + 1.0, 1.0, 0, window.recorded_us());
            match merged.as_mut() {
                Some(merged) => merged.merge(&point),
                None => merged = Some(point),
            }
        }
        let merged = merged.unwrap();
        let expected = all.quantiles_ms([0.5, 0.95, 0.99, 1.0]);
        assert_eq!(
            [merged.p50_ms, merged.p95_ms, merged.p99_ms, merged.max_ms],
            expected
        );
        assert_eq!(merged.calls, all.summary().unwrap().count);
        assert_eq!((merged.t_s, merged.span_s), (60.0, 60.0));
        // Adding bucket lists is adding histograms.
        let (a, b) = ([[5, 1], [9, 2]], [[1, 4], [9, 1], [12, 3]]);
        assert_eq!(add_recorded(&a, &b), vec![[1, 4], [5, 1], [9, 3], [12, 3]]);
        assert_eq!(add_recorded(&[], &b), b.to_vec());
    }

    #[test]
    fn a_broken_encoding_is_an_error_not_a_panic() {
        for bad in [
            "",
            "not base64!",
            "SGVsbG8=",
            &"A".repeat(MOST_ENCODED_BYTES + 4),
        ] {
            assert!(LatencyHistogram::from_v2_base64(bad).is_err(), "{bad:.20}");
        }
        // Valid base64 of a truncated encoding.
        let mut h = LatencyHistogram::default();
        h.record(1234);
        use base64::Engine;
        let engine = base64::engine::general_purpose::STANDARD;
        let bytes = engine.decode(h.to_v2_base64()).unwrap();
        let cut = engine.encode(&bytes[..bytes.len() / 2]);
        assert!(LatencyHistogram::from_v2_base64(&cut).is_err());
    }

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
        // Mean and standard deviation of 1..=10,000 µs, exactly.
        assert!((s.mean_ms - 5.0005).abs() < 1e-9, "{}", s.mean_ms);
        let stddev_us = ((10_000f64 * 10_000.0 - 1.0) / 12.0).sqrt();
        assert!(
            (s.stddev_ms * 1000.0 - stddev_us).abs() < 1e-6,
            "{}",
            s.stddev_ms
        );
        // One pass gives what one quantile at a time gives.
        let [p50, p99, max] = h.quantiles_ms([0.5, 0.99, 1.0]);
        assert_eq!(p50, s.p50_ms);
        assert_eq!(p99, s.p99_ms);
        assert_eq!(max, s.max_ms);
        let mut merged = LatencyHistogram::default();
        merged.add(&h);
        merged.add(&h);
        assert_eq!(merged.summary().unwrap().mean_ms, s.mean_ms);
        merged.reset();
        assert!(merged.summary().is_none());
        assert!(LatencyHistogram::default().summary().is_none());
    }
}
