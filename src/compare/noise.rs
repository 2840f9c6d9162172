//! Whether a difference between two runs is beyond noise. With several runs
//! a side, the runs' spread says (`runs_differ`). With one, each run's figure
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

/// Student's t at 97.5 % (a two-sided 95 % test) for 1 to 30 degrees of
/// freedom; beyond, 30's (a little wide: never too eager).
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// Whether several runs a side differ by more than the runs of each side
/// spread: Welch's t-test, two-sided at 95 %, on one value per run. This is
/// the test that sees what one run cannot: how far runs of one server drift
/// apart. With one run on a side, that side is taken to spread as the other
/// does; with one run on both, `None` (nothing to test on).
pub fn runs_differ(base: &[f64], new: &[f64]) -> Option<bool> {
    let (k, m) = (base.len(), new.len());
    if k == 0 || m == 0 || (k < 2 && m < 2) {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let variance = |v: &[f64]| {
        let centre = mean(v);
        (v.len() > 1)
            .then(|| v.iter().map(|x| (x - centre).powi(2)).sum::<f64>() / (v.len() - 1) as f64)
    };
    let (vb, vn) = (variance(base), variance(new));
    let (kf, mf) = (k as f64, m as f64);
    let (se2, df) = match (vb, vn) {
        (Some(vb), Some(vn)) => {
            let (a, b) = (vb / kf, vn / mf);
            let df = (a + b).powi(2) / (a * a / (kf - 1.0) + b * b / (mf - 1.0));
            (a + b, df)
        }
        (Some(v), None) => (v * (1.0 / kf + 1.0), kf - 1.0),
        (None, Some(v)) => (v * (1.0 + 1.0 / mf), mf - 1.0),
        (None, None) => return None,
    };
    let difference = (mean(new) - mean(base)).abs();
    if se2 <= 0.0 || se2.is_nan() {
        // Every run of each side read the same: any difference is one.
        return Some(difference > 0.0);
    }
    let df = if df.is_finite() {
        df.floor().clamp(1.0, 30.0)
    } else {
        30.0
    };
    Some(difference / se2.sqrt() > T975[df as usize - 1])
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
    fn runs_differ_when_their_spread_says_so() {
        let base = [10.0, 10.4, 9.8, 10.1];
        assert_eq!(runs_differ(&base, &[10.2, 9.9, 10.3]), Some(false));
        assert_eq!(runs_differ(&base, &[13.0, 13.2, 12.9]), Some(true));
        // One run against several: judged on the several's spread.
        assert_eq!(runs_differ(&base, &[10.5]), Some(false));
        assert_eq!(runs_differ(&[20.0], &base), Some(true));
        assert_eq!(runs_differ(&[10.0], &[12.0]), None);
        assert_eq!(runs_differ(&[5.0, 5.0], &[5.0, 5.0]), Some(false));
        assert_eq!(runs_differ(&[5.0, 5.0], &[6.0, 6.0]), Some(true));
        // Two runs a side, far apart within each: a wide t, no verdict of change.
        assert_eq!(runs_differ(&[5.0, 9.0], &[6.0, 10.0]), Some(false));
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
