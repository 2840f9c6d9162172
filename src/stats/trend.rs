//! The RSS trend: how much memory the server keeps per call, robust to
//! garbage-collection sawtooths.
//!
//! A start/end delta is fooled both ways: a leak can end on a collection, and a
//! healthy server can end on a peak. So the trend is fitted to the *retained
//! floor*: at each sample, the lowest RSS the server goes back to from then on
//! (the suffix minimum). Garbage that is collected later never raises the floor;
//! a leak raises it call after call. When the run ends in the middle of a
//! sawtooth rise that looks like the earlier ones, that unfinished rise is left
//! out, since its floor is not known yet. The slope is the Theil–Sen estimate
//! (median of pairwise slopes), so a few odd samples do not tilt it.

use serde::Serialize;

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RssTrend {
    /// Retained KB per call (KB = 1024 bytes).
    pub kb_per_call: f64,
    /// The 95 % confidence interval of that slope (Sen's, from the order
    /// statistics of the pairwise slopes), in KB per call.
    pub kb_per_call_low: f64,
    pub kb_per_call_high: f64,
    /// Retained MB per 1000 calls (MB = 1,048,576 bytes).
    pub mb_per_1k_calls: f64,
    /// Samples the fit used, and calls they span.
    pub samples: usize,
    pub calls_spanned: f64,
    /// Collections (large drops) seen in the samples.
    pub collections: usize,
    /// Why the floor is not known well enough yet to judge the trend (the
    /// server's trend only: see [`settling`]); in the report as
    /// `rss_trend_settling`.
    #[serde(skip)]
    pub settling: Option<Settling>,
    /// How long the estimate has stayed within the interval it has now, in
    /// seconds (the server's trend only: `stats::steadiness`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steady_for_s: Option<f64>,
    /// Set when the figures above are the later half's (see [`LaterHalf`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub later_half: Option<LaterHalf>,
}

/// The trend of the later half of the calls, given instead of the whole
/// run's when the rate has changed (the two intervals do not meet) or when
/// it is the surer of the two: the rate the server keeps
/// memory at *now*. A heap or a cache that grew to its working size and
/// stopped reads its plateau here (over the whole run it reads its early
/// growth, diluted, with an interval the growth widens), and a leak that
/// began late reads its own rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LaterHalf {
    /// The later half starts at this many calls done.
    pub from_calls: f64,
    /// The whole run's figure, which the later half's replaced.
    pub whole_run_kb_per_call: f64,
}

/// How long memory must rise with no collection before the rise is taken as
/// growth, at least (or half as long again as the one cycle seen).
pub const RISE_TAKEN_AS_GROWTH_S: f64 = 15.0;

/// Why a memory trend is not yet evidence enough to judge. Its floor is
/// known where the heap has been seen to fall back: before that, a
/// garbage-collected heap's rise looks exactly like a leak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Settling {
    /// No collection seen, and the memory has risen for less time than it
    /// takes to be taken as growth.
    FirstRise { rising_s: f64, needed_s: f64 },
    /// One or two collections: the floor the trend is fitted to is a
    /// staircase of as many steps, and a median of pairwise slopes over two
    /// steps can read 0 for a steady leak (the pairs within a step
    /// outnumber those across): a third trough settles it.
    FewCollections {
        seen: usize,
        rising_s: f64,
        needed_s: f64,
    },
}

/// Collections that settle a trend: three troughs, a floor of three steps.
pub const SETTLED_AT_COLLECTIONS: usize = 3;

impl std::fmt::Display for Settling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Settling::FirstRise { rising_s, needed_s } => write!(
                f,
                "no collection seen in {rising_s:.1} s: a garbage-collected heap's first rise \
                 looks like a leak (taken as growth after {needed_s:.0} s without one)"
            ),
            Settling::FewCollections {
                seen,
                rising_s,
                needed_s,
            } => write!(
                f,
                "{seen} of {SETTLED_AT_COLLECTIONS} collections seen: the floor needs a third \
                 trough to be a slope ({rising_s:.1} s since the last; taken as growth after \
                 {needed_s:.0} s without one)"
            ),
        }
    }
}

/// Whether a trend over samples taken at `times_s` (the trend's window),
/// with collections at `drops`, is evidence enough: settled once three
/// collections show the floor three times ([`SETTLED_AT_COLLECTIONS`]), or
/// once the memory has risen without one for longer than a collection
/// could take to come ([`RISE_TAKEN_AS_GROWTH_S`], or half again the
/// longest cycle seen before the last collection).
pub fn settling(times_s: &[f64], drops: &[usize]) -> Option<Settling> {
    if drops.len() >= SETTLED_AT_COLLECTIONS {
        return None;
    }
    let (&start, &now) = (times_s.first()?, times_s.last()?);
    let fell_at: Vec<f64> = drops
        .iter()
        .filter_map(|&i| times_s.get(i))
        .copied()
        .collect();
    let rising_s = now - fell_at.last().copied().unwrap_or(start);
    let cycle_s = std::iter::once(start)
        .chain(fell_at.iter().copied())
        .collect::<Vec<f64>>()
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .fold(0.0, f64::max);
    let needed_s = RISE_TAKEN_AS_GROWTH_S.max(1.5 * cycle_s);
    if rising_s >= needed_s {
        return None;
    }
    Some(match fell_at.len() {
        0 => Settling::FirstRise { rising_s, needed_s },
        seen => Settling::FewCollections {
            seen,
            rising_s,
            needed_s,
        },
    })
}

/// Fewest samples, and fewest calls spanned, before a trend is given.
const MIN_SAMPLES: usize = 6;
const MIN_CALLS: f64 = 20.0;
/// Largest number of points the pairwise fit runs on.
const FIT_POINTS: usize = 64;

/// `points` are (calls completed, RSS bytes) in time order.
pub fn rss_trend(points: &[(f64, f64)]) -> Option<RssTrend> {
    let rss: Vec<f64> = points.iter().map(|p| p.1).collect();
    fitted(points, &rss, &collections(&rss))
}

/// The server's memory over samples taken at `times_s`, `points` being
/// (calls completed, RSS bytes): its trend ([`rss_trend`] with whether it is
/// [`settling`]) and the floor it stands on at the end ([`floor_now`]), the
/// collections found once for all three.
pub fn server_memory(times_s: &[f64], points: &[(f64, f64)]) -> (Option<RssTrend>, Option<f64>) {
    let rss: Vec<f64> = points.iter().map(|p| p.1).collect();
    let drops = collections(&rss);
    let trend = fitted(points, &rss, &drops).map(|trend| RssTrend {
        settling: settling(times_s, &drops),
        ..trend
    });
    (trend, floor_at_end(&rss, &drops))
}

/// The floor fit of `points`, whose RSS is `rss` and its collections
/// `drops`: over the whole window, or over its later half where the rate
/// has changed ([`RateChange`]).
fn fitted(points: &[(f64, f64)], rss: &[f64], drops: &[usize]) -> Option<RssTrend> {
    if points.len() < MIN_SAMPLES {
        return None;
    }
    let end = settled_end(rss, drops);
    let floor = retained_floor(rss);
    let whole = floor_fit(points, &floor, 0..end, drops.len())?;
    Some(later_half(points, &floor, end, drops, &whole).unwrap_or(whole))
}

/// The trend of the later half of the calls in `points[..end]`, if it has
/// as much evidence as a settled trend (three collections of its own, or no
/// collection at all in the window) and either the rate has changed (the
/// later half's and the earlier half's 99 % intervals do not meet: the
/// later figure is the one that holds now) or it is narrower than
/// `whole`'s (the earlier half behaved otherwise and only widens the
/// whole). A steady leak's later half agrees and, with half the points, is
/// the less sure: the whole stands.
fn later_half(
    points: &[(f64, f64)],
    floor: &[f64],
    end: usize,
    drops: &[usize],
    whole: &RssTrend,
) -> Option<RssTrend> {
    let (first, last) = (points.first()?.0, points.get(end.checked_sub(1)?)?.0);
    let middle = (first + last) / 2.0;
    let start = points[..end].partition_point(|p| p.0 < middle);
    let own_drops = drops.iter().filter(|&&i| i > start && i < end).count();
    if !drops.is_empty() && own_drops < SETTLED_AT_COLLECTIONS {
        return None;
    }
    let later = floor_fit(points, floor, start..end, drops.len())?;
    let width = |t: &RssTrend| t.kb_per_call_high - t.kb_per_call_low;
    // Changed: the two halves' rates, each known to 99 %, do not meet. The
    // halves are separate windows; against the whole run (which holds the
    // later half) at 95 %, a steady leak's troughs — whose intervals come
    // out narrower than they are, the points not being independent — met a
    // spurious "change" now and then, judged four times a second, and a
    // sure FAILING read SETTLING for a moment. (The later half's interval
    // merely leaving out the other's figure is not enough either: a steady
    // growth with some wander does that — server-everything's event store
    // read N/A, not FAIL.)
    let within_99 = |range| floor_fit_within(points, floor, range, drops.len(), Z99);
    let changed = match (within_99(0..start), within_99(start..end)) {
        (Some(earlier), Some(later)) => {
            later.kb_per_call_high < earlier.kb_per_call_low
                || later.kb_per_call_low > earlier.kb_per_call_high
        }
        _ => false,
    };
    (changed || width(&later) < width(whole)).then_some(RssTrend {
        later_half: Some(LaterHalf {
            from_calls: points[start].0,
            whole_run_kb_per_call: whole.kb_per_call,
        }),
        ..later
    })
}

/// The Theil–Sen fit of the floor over `range` of `points` (thinned to at
/// most [`FIT_POINTS`]); `collections` seen in the window.
fn floor_fit(
    points: &[(f64, f64)],
    floor: &[f64],
    range: std::ops::Range<usize>,
    collections: usize,
) -> Option<RssTrend> {
    floor_fit_within(points, floor, range, collections, Z95)
}

/// The normal quantiles of a two-sided 95 % and 99 % interval.
const Z95: f64 = 1.96;
const Z99: f64 = 2.576;

/// [`floor_fit`] with an interval of `z` (a normal quantile).
fn floor_fit_within(
    points: &[(f64, f64)],
    floor: &[f64],
    range: std::ops::Range<usize>,
    collections: usize,
    z: f64,
) -> Option<RssTrend> {
    let step = range.len().div_ceil(FIT_POINTS).max(1);
    let fit: Vec<(f64, f64)> = range
        .step_by(step)
        .map(|i| (points[i].0, floor[i]))
        .collect();
    let calls_spanned = fit.last()?.0 - fit.first()?.0;
    if fit.len() < 4 || calls_spanned < MIN_CALLS {
        return None;
    }
    let (slope, low, high) = theil_sen_interval(&fit, z)?;
    Some(RssTrend {
        kb_per_call: slope / 1024.0,
        kb_per_call_low: low / 1024.0,
        kb_per_call_high: high / 1024.0,
        mb_per_1k_calls: slope * 1000.0 / MIB,
        samples: fit.len(),
        calls_spanned,
        collections,
        settling: None,
        steady_for_s: None,
        later_half: None,
    })
}

#[cfg(test)]
impl RssTrend {
    /// A settled trend of `low` to `high` KB a call (its middle the
    /// figure), for tests.
    pub(crate) fn between(low: f64, high: f64) -> RssTrend {
        let kb_per_call = (low + high) / 2.0;
        RssTrend {
            kb_per_call,
            kb_per_call_low: low,
            kb_per_call_high: high,
            mb_per_1k_calls: kb_per_call * 1000.0 / 1024.0,
            samples: 10,
            calls_spanned: 100.0,
            collections: SETTLED_AT_COLLECTIONS,
            settling: None,
            steady_for_s: None,
            later_half: None,
        }
    }

    /// A trend of `kb_per_call` ± `half` on a heap's first rise (3 s of
    /// 15), for the tests of what settles.
    pub(crate) fn on_a_first_rise(kb_per_call: f64, half: f64) -> RssTrend {
        RssTrend {
            collections: 0,
            settling: Some(Settling::FirstRise {
                rising_s: 3.0,
                needed_s: 15.0,
            }),
            ..RssTrend::between(kb_per_call - half, kb_per_call + half)
        }
    }
}

/// The retained floor of a series: at each point, the lowest value it goes
/// back to from then on (the suffix minimum).
pub fn retained_floor(values: &[f64]) -> Vec<f64> {
    let mut floor = values.to_vec();
    for i in (0..floor.len().saturating_sub(1)).rev() {
        floor[i] = floor[i].min(floor[i + 1]);
    }
    floor
}

/// How many of the samples have a known floor: all of them, unless the run
/// ends in the middle of a sawtooth rise like the earlier ones (whose floor
/// is not known yet: it ends at the last trough). `drops` are the
/// [`collections`] of `rss`.
pub(super) fn settled_end(rss: &[f64], drops: &[usize]) -> usize {
    let Some(&last_drop) = drops.last() else {
        return rss.len();
    };
    let trough = last_drop + argmin(&rss[last_drop..]);
    let tail = rss.len() - 1 - trough;
    let mut longest_cycle = drops[0];
    for pair in drops.windows(2) {
        longest_cycle = longest_cycle.max(pair[1] - pair[0]);
    }
    // A tail no longer than the cycles before it is an unfinished rise; a
    // much longer one is growth and stays in.
    if tail * 2 <= longest_cycle * 3 {
        trough + 1
    } else {
        rss.len()
    }
}

/// The floor a series of RSS stands on now: the lowest it fell back to
/// since its last collection while the rise after it is no longer than the
/// cycles before (an unfinished sawtooth rise: garbage, not growth), else
/// the latest value (no collection seen, or a rise long enough to be growth).
/// Growth counted to it does not swing with a sawtooth's peaks.
pub fn floor_now(rss: &[f64]) -> Option<f64> {
    floor_at_end(rss, &collections(rss))
}

/// [`floor_now`] of `rss`, its collections `drops` found already.
fn floor_at_end(rss: &[f64], drops: &[usize]) -> Option<f64> {
    let latest = *rss.last()?;
    let end = settled_end(rss, drops);
    Some(if end < rss.len() {
        rss[end - 1]
    } else {
        latest
    })
}

/// Add a point to a series kept within `cap` points: when full, every other
/// point is dropped, so a long run keeps an even spread in bounded memory.
pub fn push_bounded(points: &mut Vec<(f64, f64)>, point: (f64, f64), cap: usize) {
    if points.len() >= cap {
        let mut index = 0;
        points.retain(|_| {
            index += 1;
            index % 2 == 1
        });
    }
    points.push(point);
}

/// Where the memory fell, as collections do: the indices of falls of a
/// quarter of the series' whole range, and at least 1 MB, from the highest
/// point since the last fall. A fall seen over several samples (the heap
/// handed back a piece at a time, or sampled in the middle of it) is one
/// collection: a new one needs the memory to have risen since.
pub fn collections(rss: &[f64]) -> Vec<usize> {
    let Some(&first) = rss.first() else {
        return Vec::new();
    };
    let (low, high) = rss
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let drop = ((high - low) * 0.25).max(MIB);
    let mut drops = Vec::new();
    let mut peak = first;
    let mut rose = true;
    for (i, &v) in rss.iter().enumerate().skip(1) {
        if peak - v >= drop {
            if rose {
                drops.push(i);
            }
            rose = false;
            peak = v;
        } else {
            rose |= v > peak;
            peak = peak.max(v);
        }
    }
    drops
}

/// The Theil–Sen slope (the median of the slopes between every pair of
/// points with distinct x) with its 95 % confidence interval: with N pairwise
/// slopes in order and n points, the bounds are the slopes C/2 either side of
/// the median, C = 1.96 × √(n(n−1)(2n+5)/18) (Sen, 1968; ties ignored). One
/// sort of at most 2,016 slopes (64 points) gives all three: it runs at every
/// snapshot.
fn theil_sen_interval(points: &[(f64, f64)], z: f64) -> Option<(f64, f64, f64)> {
    let mut slopes: Vec<f64> = Vec::with_capacity(points.len() * points.len() / 2);
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            if b.0 > a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_unstable_by(f64::total_cmp);
    let count = slopes.len();
    let median = if count.is_multiple_of(2) {
        (slopes[count / 2 - 1] + slopes[count / 2]) / 2.0
    } else {
        slopes[count / 2]
    };
    let n = points.len() as f64;
    let spread = z * (n * (n - 1.0) * (2.0 * n + 5.0) / 18.0).sqrt();
    let lower = ((count as f64 - spread) / 2.0).floor().max(0.0) as usize;
    let upper = ((count as f64 + spread) / 2.0).ceil() as usize;
    Some((
        median,
        slopes[lower.min(count - 1)],
        slopes[upper.min(count - 1)],
    ))
}

fn argmin(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(
            (0, f64::MAX),
            |(best, low), (i, &v)| if v < low { (i, v) } else { (best, low) },
        )
        .0
}

/// The slope alone, for the tests of the median.
#[cfg(test)]
fn theil_sen(points: &[(f64, f64)]) -> Option<f64> {
    theil_sen_interval(points, Z95).map(|(median, _, _)| median)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: f64 = 20.0 * MIB;

    fn series(calls: usize, rss_at: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (0..=calls)
            .step_by(10)
            .map(|c| (c as f64, rss_at(c as f64)))
            .collect()
    }

    #[test]
    fn theil_sen_takes_the_median_slope() {
        // Slopes 1, 2, 3: the middle one.
        assert_eq!(theil_sen(&[(0.0, 0.0), (1.0, 1.0), (2.0, 4.0)]), Some(2.0));
        // Slopes 1, 1, 1, 2, 2.5, 4: between the two middle ones.
        let even = [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 6.0)];
        assert_eq!(theil_sen(&even), Some(1.5));
        assert_eq!(theil_sen(&[(1.0, 0.0), (1.0, 5.0)]), None);
    }

    #[test]
    fn growth_that_stops_reads_its_plateau_and_a_late_leak_its_own_rate() {
        // 64 KB a call for 300 calls, then nothing: 0 now, 19 over the run.
        let stops = series(1000, |c| BASE + c.min(300.0) * 64.0 * 1024.0);
        let trend = rss_trend(&stops).unwrap();
        assert!(trend.kb_per_call.abs() < 0.5, "{trend:?}");
        let change = trend.later_half.expect("a change");
        assert!(change.whole_run_kb_per_call > 1.0, "{change:?}");
        assert_eq!(change.from_calls, 500.0);
        // Nothing for 600 calls, then 8 KB a call: the later half's rate.
        let starts = series(1000, |c| BASE + (c - 600.0).max(0.0) * 8.0 * 1024.0);
        let trend = rss_trend(&starts).unwrap();
        assert!(trend.later_half.is_some(), "{trend:?}");
        assert!((trend.kb_per_call - 8.0).abs() < 1.0, "{trend:?}");
        // A steady leak: both halves agree, the whole run's figure stands.
        let steady = series(1000, |c| BASE + c * 2.0 * 1024.0);
        assert_eq!(rss_trend(&steady).unwrap().later_half, None);
    }

    #[test]
    fn under_a_sawtooth_the_later_half_needs_three_collections_of_its_own() {
        // Garbage collected every 150 calls over growth that stops at call
        // 450 (16 KB a call).
        let rss = |c: f64| BASE + c.min(450.0) * 16.0 * 1024.0 + (c % 150.0) * 100.0 * 1024.0;
        let short = series(600, rss);
        // 300 calls in the later half: two collections, not enough.
        let trend = rss_trend(&short).unwrap();
        assert_eq!(trend.later_half, None, "{trend:?}");
        assert!(trend.kb_per_call > 5.0, "{trend:?}");
        let long = series(900, rss);
        let trend = rss_trend(&long).unwrap();
        assert!(trend.later_half.is_some(), "{trend:?}");
        assert!(trend.kb_per_call.abs() < 0.5, "{trend:?}");
    }

    #[test]
    fn a_leak_is_measured() {
        let points = series(1000, |c| BASE + c * 200.0 * 1024.0);
        let trend = rss_trend(&points).unwrap();
        assert!((trend.kb_per_call - 200.0).abs() < 0.5, "{trend:?}");
        // A clean line: the interval is the slope itself.
        assert!((trend.kb_per_call_high - trend.kb_per_call_low).abs() < 0.5);
    }

    #[test]
    fn noise_widens_the_interval_around_the_slope() {
        // 100 KB/call with ±2 MB of noise that repeats every 7 samples.
        let noise = [0.0, 2.0, -1.5, 1.0, -2.0, 0.5, -0.5];
        let points: Vec<(f64, f64)> = (0..60)
            .map(|i| {
                let c = i as f64 * 20.0;
                (c, BASE + c * 100.0 * 1024.0 + noise[i % 7] * MIB)
            })
            .collect();
        let trend = rss_trend(&points).unwrap();
        assert!(trend.kb_per_call_low < trend.kb_per_call, "{trend:?}");
        assert!(trend.kb_per_call < trend.kb_per_call_high, "{trend:?}");
        assert!(
            trend.kb_per_call_low > 0.0 && trend.kb_per_call_high < 200.0,
            "{trend:?}"
        );
    }

    #[test]
    fn a_sawtooth_is_not_a_leak_wherever_the_run_ends() {
        // 40 MB of garbage collected every 160 calls; runs ending at every phase.
        for calls in [500, 560, 600, 640, 700, 1000] {
            let points = series(calls, |c| BASE + (c % 160.0) * 256.0 * 1024.0);
            let trend = rss_trend(&points).unwrap();
            assert!(trend.kb_per_call.abs() < 1.0, "{calls} calls: {trend:?}");
            assert!(trend.collections >= 3);
        }
    }

    #[test]
    fn a_leak_under_a_sawtooth_is_still_measured() {
        let points = series(1000, |c| {
            BASE + (c % 160.0) * 256.0 * 1024.0 + c * 50.0 * 1024.0
        });
        let trend = rss_trend(&points).unwrap();
        assert!((trend.kb_per_call - 50.0).abs() < 10.0, "{trend:?}");
    }

    #[test]
    fn growth_after_one_early_drop_still_counts() {
        let points = series(1000, |c| {
            if c < 30.0 {
                BASE + 30.0 * MIB
            } else {
                BASE + c * 100.0 * 1024.0
            }
        });
        let trend = rss_trend(&points).unwrap();
        assert!((trend.kb_per_call - 100.0).abs() < 10.0, "{trend:?}");
    }

    #[test]
    fn a_fall_seen_over_several_samples_is_one_collection() {
        // Each fall is caught half-way once: 40 → 25 → 5.
        let rss: Vec<f64> = [10, 20, 30, 40, 25, 5, 10, 20, 30, 40, 22, 5, 10]
            .iter()
            .map(|&mb| f64::from(mb) * MIB)
            .collect();
        assert_eq!(collections(&rss), vec![4, 10]);
    }

    #[test]
    fn the_floor_now_holds_through_a_sawtooth_and_follows_growth() {
        // A 40 MB sawtooth every 160 calls: wherever the series ends, the
        // floor is the trough, not the peak.
        for calls in [500, 560, 600, 630] {
            let rss: Vec<f64> = series(calls, |c| BASE + (c % 160.0) * 256.0 * 1024.0)
                .iter()
                .map(|p| p.1)
                .collect();
            assert_eq!(floor_now(&rss), Some(BASE), "{calls} calls");
        }
        // No collection: the latest value.
        let rss: Vec<f64> = series(500, |c| BASE + c * 1024.0)
            .iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(floor_now(&rss), rss.last().copied());
        // A rise far longer than the cycles before it is growth.
        let rss: Vec<f64> = series(2000, |c| {
            if c < 480.0 {
                BASE + (c % 160.0) * 256.0 * 1024.0
            } else {
                BASE + (c - 480.0) * 64.0 * 1024.0
            }
        })
        .iter()
        .map(|p| p.1)
        .collect();
        assert_eq!(floor_now(&rss), rss.last().copied());
        assert_eq!(floor_now(&[]), None);
    }

    #[test]
    fn too_little_data_gives_no_trend() {
        assert!(rss_trend(&series(30, |_| BASE)).is_none());
    }

    /// Samples every 0.25 s for `seconds`, RSS as a function of time: their
    /// times and the collections in them.
    fn timed(seconds: f64, rss_at: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<usize>) {
        let times: Vec<f64> = (0..=(seconds * 4.0) as usize)
            .map(|i| i as f64 / 4.0)
            .collect();
        let rss: Vec<f64> = times.iter().map(|&t| rss_at(t)).collect();
        (times, collections(&rss))
    }

    #[test]
    fn a_rise_settles_at_the_third_collection_or_after_long_enough_without_one() {
        // A 40 MB sawtooth with an 8 s cycle.
        let saw = |t: f64| BASE + (t % 8.0) * 5.0 * MIB;
        let (times, drops) = timed(7.0, saw);
        assert!(matches!(
            settling(&times, &drops),
            Some(Settling::FirstRise { .. })
        ));
        let (times, drops) = timed(12.0, saw);
        // One fall, 8 s in: the next is not due before 12 s after it.
        let Some(Settling::FewCollections { needed_s, .. }) = settling(&times, &drops) else {
            panic!("{:?}", settling(&times, &drops));
        };
        assert_eq!(needed_s, RISE_TAKEN_AS_GROWTH_S);
        // Two falls (8 s, 16 s): still a staircase of two steps.
        let (times, drops) = timed(17.0, saw);
        assert!(matches!(
            settling(&times, &drops),
            Some(Settling::FewCollections { seen: 2, .. })
        ));
        assert_eq!(settling(&timed(25.0, saw).0, &timed(25.0, saw).1), None);
        // A steady leak with no collection settles after the time a
        // collection could take, not before.
        let leak = |t: f64| BASE + t * MIB;
        let (times, drops) = timed(RISE_TAKEN_AS_GROWTH_S - 1.0, leak);
        assert!(settling(&times, &drops).is_some());
        let (times, drops) = timed(RISE_TAKEN_AS_GROWTH_S, leak);
        assert_eq!(settling(&times, &drops), None);
        // One long cycle seen: the rise after it must outlast it by half.
        let slow = |t: f64| BASE + (t % 20.0) * MIB;
        let (times, drops) = timed(35.0, slow);
        let Some(Settling::FewCollections { needed_s, .. }) = settling(&times, &drops) else {
            panic!("{:?}", settling(&times, &drops));
        };
        assert_eq!(needed_s, 30.0);
    }
}
