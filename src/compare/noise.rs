//! Whether a difference between two runs is beyond noise: each run's figure
//! is known only within an interval (how far it would move had the same
//! server answered other calls), and a difference counts when the two
//! runs' 95 % intervals do not meet.
//!
//! For a latency percentile the interval is distribution-free, from the run's
//! histogram: the q-th percentile of n calls lies, 95 % of the time, between
//! the calls ranked n·q ∓ 1.96·√(n·q·(1−q)) (the binomial law of how many
//! calls fall below it, in its normal form). For a success rate it is
//! Wilson's score interval. Two intervals of 95 % each miss one another, when
//! both runs come from one server, less often than one interval misses the
//! other's figure: about 0.6 % of the time for independent calls (the
//! difference must exceed 1.96·(σ₁+σ₂), which for equal σ is 2.77 standard
//! deviations of the difference). Calls are not quite independent (a slow
//! moment slows the calls in flight together), so the rate measured on
//! healthy runs is higher; docs/COMPARE.md gives it.

/// The normal quantile of a two-sided 95 % interval.
const Z95: f64 = 1.959_964;

/// A figure's 95 % interval (either end may be unbounded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// Whether the two intervals share no point.
    pub fn apart_from(&self, other: &Interval) -> bool {
        self.high < other.low || other.high < self.low
    }
}

/// A run's latency histogram as saved: `[µs, calls]` per bucket, ascending.
#[derive(Debug, Clone)]
pub struct Distribution {
    buckets: Vec<[u64; 2]>,
    calls: u64,
}

impl Distribution {
    /// The histogram of a report, or `None` if it is empty or not in the
    /// order mcpstorm writes (a report edited or forged: not tested on).
    pub fn from_buckets(buckets: &[[u64; 2]]) -> Option<Distribution> {
        let kept: Vec<[u64; 2]> = buckets.iter().copied().filter(|b| b[1] > 0).collect();
        let ascending = kept.windows(2).all(|pair| pair[0][0] < pair[1][0]);
        let calls = kept
            .iter()
            .try_fold(0u64, |sum, bucket| sum.checked_add(bucket[1]))?;
        (ascending && calls > 0).then_some(Distribution {
            buckets: kept,
            calls,
        })
    }

    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The latency of the call at `rank` (1 = fastest), in µs.
    fn at_rank(&self, rank: u64) -> u64 {
        let mut below = 0u64;
        for &[micros, count] in &self.buckets {
            below += count;
            if below >= rank {
                return micros;
            }
        }
        self.buckets.last().map_or(0, |bucket| bucket[0])
    }

    /// The q-th quantile (0 < q ≤ 1) in ms, read as HdrHistogram reads it
    /// (the call ranked ⌈n·q⌉), so it is the figure the report shows.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let rank = ((q * self.calls as f64).ceil() as u64).clamp(1, self.calls);
        self.at_rank(rank) as f64 / 1000.0
    }

    /// The 95 % interval of the q-th quantile, in ms. An end whose rank falls
    /// outside the calls is unbounded: too few calls to bound it.
    pub fn quantile_interval_ms(&self, q: f64) -> Interval {
        let n = self.calls as f64;
        let spread = Z95 * (n * q * (1.0 - q)).sqrt();
        let low_rank = (n * q - spread).floor();
        let high_rank = (n * q + spread).ceil() + 1.0;
        let ms = |rank: f64| self.at_rank(rank as u64) as f64 / 1000.0;
        Interval {
            low: if low_rank >= 1.0 {
                ms(low_rank)
            } else {
                f64::NEG_INFINITY
            },
            high: if high_rank <= n {
                ms(high_rank)
            } else {
                f64::INFINITY
            },
        }
    }
}

/// Wilson's 95 % interval for `successes` of `trials`.
pub fn proportion_interval(successes: u64, trials: u64) -> Option<Interval> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Some(Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// n calls spread evenly over 1..=n ms.
    fn uniform(n: u64, offset_us: u64) -> Distribution {
        let buckets: Vec<[u64; 2]> = (1..=n).map(|i| [i * 1000 + offset_us, 1]).collect();
        Distribution::from_buckets(&buckets).expect("valid")
    }

    #[test]
    fn a_quantile_reads_as_the_histogram_reads_it() {
        let d = uniform(1000, 0);
        assert_eq!(d.quantile_ms(0.5), 500.0);
        assert_eq!(d.quantile_ms(0.95), 950.0);
        assert_eq!(d.quantile_ms(1.0), 1000.0);
        let interval = d.quantile_interval_ms(0.5);
        // √(1000·¼)·1.96 = 31 calls either side.
        assert!(interval.low > 465.0 && interval.low < 475.0, "{interval:?}");
        assert!(
            interval.high > 525.0 && interval.high < 535.0,
            "{interval:?}"
        );
    }

    #[test]
    fn a_shift_beyond_the_intervals_is_apart_and_one_within_is_not() {
        let base = uniform(1000, 0);
        let shifted = uniform(1000, 100_000);
        let near = uniform(1000, 10_000);
        let q = 0.95;
        assert!(
            base.quantile_interval_ms(q)
                .apart_from(&shifted.quantile_interval_ms(q))
        );
        assert!(
            !base
                .quantile_interval_ms(q)
                .apart_from(&near.quantile_interval_ms(q))
        );
    }

    #[test]
    fn too_few_calls_leave_the_tail_unbounded() {
        let d = uniform(50, 0);
        assert_eq!(d.quantile_interval_ms(0.99).high, f64::INFINITY);
    }

    #[test]
    fn a_forged_histogram_is_not_tested_on() {
        assert!(Distribution::from_buckets(&[[5, 1], [3, 1]]).is_none());
        assert!(Distribution::from_buckets(&[[5, 0]]).is_none());
        assert!(Distribution::from_buckets(&[[1, u64::MAX], [2, 1]]).is_none());
    }

    #[test]
    fn wilson_intervals_hold_the_rate() {
        let all = proportion_interval(1000, 1000).unwrap();
        assert_eq!(all.high, 1.0);
        assert!(all.low > 0.995);
        let fewer = proportion_interval(950, 1000).unwrap();
        assert!(fewer.apart_from(&all));
        assert!(proportion_interval(1, 0).is_none());
        assert!(proportion_interval(2, 1).is_none());
    }
}
