//! The aggregator's accumulators: histograms and counts per phase, label and
//! window, probe extremes, cold-start statistics. Each turns into the
//! matching part of a snapshot.

use std::collections::BTreeMap;
use std::time::Instant;

use super::latency::LatencyHistogram;
use super::limits::{CapacityResult, SessionsResult};
use super::series::{Mergeable, Series};
use super::snapshot::*;
use super::trend::{RssTrend, push_bounded, rss_trend};
use crate::probe::{Member, ProbeSample};
use crate::protocol::Outcome;
use crate::protocol::bad_input::BadInput;
use crate::stats::{ColdStartEvent, PhasePlan};

pub(super) const MIB: f64 = 1024.0 * 1024.0;
/// Points kept per time line (latency windows, probe samples).
pub(super) const SERIES_POINTS: usize = 600;

/// Histogram and outcome counts of a set of calls.
#[derive(Default, Clone)]
pub(super) struct CallAcc {
    pub(super) latency: LatencyHistogram,
    pub(super) outcomes: OutcomeCounts,
}

impl CallAcc {
    pub(super) fn record(&mut self, outcome: Outcome, latency_us: u64) {
        self.outcomes.add(outcome);
        self.latency.record(latency_us);
    }

    /// These calls as one point of the latency time line.
    pub(super) fn window_point(&self, t_s: f64, span_s: f64) -> WindowPoint {
        let buckets = if self.outcomes.total() == 0 {
            Vec::new()
        } else {
            self.latency.recorded_us()
        };
        // The window's own histogram: its percentiles need no rebuilt one.
        WindowPoint::with_histogram(t_s, span_s, self.outcomes.errors(), &self.latency, buckets)
    }

    /// These calls' figures; `with_histogram` for the final snapshot, which
    /// keeps the whole latency histogram too.
    pub(super) fn stats(&self, seconds: f64, with_histogram: bool) -> CallStats {
        let calls = self.outcomes.total();
        CallStats {
            calls,
            outcomes: self.outcomes,
            success_rate: self.outcomes.success_rate(),
            latency: self.latency.summary(),
            throughput_per_s: if seconds > 0.0 {
                calls as f64 / seconds
            } else {
                0.0
            },
            latency_histogram_us: (with_histogram && calls > 0)
                .then(|| std::sync::Arc::new(self.latency.recorded_us())),
            latency_hdr_v2: (with_histogram && calls > 0)
                .then(|| std::sync::Arc::from(self.latency.to_v2_base64())),
        }
    }
}

pub(super) struct PhaseAcc {
    pub(super) plan: PhasePlan,
    pub(super) calls: CallAcc,
    pub(super) labels: Vec<CallAcc>,
    pub(super) started: Option<Instant>,
    pub(super) ended: Option<Instant>,
    pub(super) late_sends: u64,
    pub(super) max_send_lag_us: u64,
    /// Churn phases: the server's RSS after each session ended.
    pub(super) churn: ChurnAcc,
    /// Robustness phases: what the server did with each bad input.
    pub(super) bad_inputs: BTreeMap<BadInput, BadInputAcc>,
    /// Capacity phases: the search's result, once it ended.
    pub(super) capacity: Option<CapacityResult>,
    /// Sessions phases: the sessions held so far.
    pub(super) sessions: Option<SessionsResult>,
    /// Ramps of rates: each stage's sends, once the ramp ended.
    pub(super) stages: Option<Vec<StageSends>>,
    /// Capacity phases: the rate asked, as a step line `(seconds since the
    /// phase's start, calls/s)` (two points at each change).
    pub(super) step_rates: Vec<(f64, f64)>,
}

#[derive(Debug, Default)]
pub(super) struct BadInputAcc {
    sent: u64,
    as_expected: u64,
    answers: BTreeMap<String, u64>,
}

/// Most distinct answers kept per bad input (the rest are counted together).
const ANSWERS_KEPT: usize = 16;

impl BadInputAcc {
    pub(super) fn record(&mut self, answer: String, as_expected: bool) {
        self.sent += 1;
        self.as_expected += u64::from(as_expected);
        let key = if self.answers.len() < ANSWERS_KEPT || self.answers.contains_key(&answer) {
            answer
        } else {
            "other answers".to_string()
        };
        *self.answers.entry(key).or_default() += 1;
    }

    pub(super) fn tally(&self, input: BadInput) -> BadInputTally {
        BadInputTally {
            input: input.name().to_string(),
            expected: input.expected().to_string(),
            sent: self.sent,
            as_expected: self.as_expected,
            answers: self.answers.iter().map(|(a, n)| (a.clone(), *n)).collect(),
        }
    }
}

/// Points of a churn phase: (sessions ended, server RSS bytes).
#[derive(Debug, Clone, Default)]
pub(super) struct ChurnAcc {
    pub(super) sessions: u64,
    pub(super) points: Vec<(f64, f64)>,
}

/// Most points a churn phase keeps; beyond, every other one is dropped, so
/// a long run keeps an even spread in bounded memory.
const CHURN_POINTS: usize = 2048;

impl ChurnAcc {
    pub(super) fn session_ended(&mut self, rss_bytes: Option<u64>) {
        self.sessions += 1;
        let Some(rss) = rss_bytes else {
            return;
        };
        push_bounded(
            &mut self.points,
            (self.sessions as f64, rss as f64),
            CHURN_POINTS,
        );
    }

    /// KB the server keeps per session: the RSS-floor trend over the second
    /// half of the phase's sessions. A leak keeps one slope from the first
    /// session to the last; a garbage-collected heap growing to its working
    /// size climbs steeply at first and then flattens, and that warm-up is
    /// not memory a session keeps.
    pub(super) fn retained(&self) -> Option<RssTrend> {
        rss_trend(self.fitted())
    }

    /// The points the fit uses: the second half of the phase's sessions.
    fn fitted(&self) -> &[(f64, f64)] {
        let half = self.sessions as f64 / 2.0;
        let later = self.points.partition_point(|&(session, _)| session <= half);
        &self.points[later..]
    }

    /// The longest run of sessions between two collections (falls of RSS) in
    /// this phase, counting from its start to the first: `None` without any.
    pub(super) fn longest_cycle(&self) -> Option<f64> {
        let rss: Vec<f64> = self.points.iter().map(|p| p.1).collect();
        let mut at = 0.0;
        let mut longest: Option<f64> = None;
        for index in super::trend::collections(&rss) {
            let session = self.points[index].0;
            longest = Some(longest.unwrap_or(0.0).max(session - at));
            at = session;
        }
        longest
    }

    /// Why the fit cannot conclude, if it cannot: the phase ended with too
    /// few sessions for a figure (`ended_without_figure`, which the caller
    /// knows from the fit it made), or the server's memory rises and falls in
    /// cycles (of up to `cycle` sessions, in any churn phase of the run) too
    /// long for the sessions fitted to tell a session's memory from a cycle's rise.
    pub(super) fn inconclusive(
        &self,
        cycle: Option<f64>,
        ended_without_figure: bool,
    ) -> Option<String> {
        let fitted = self.fitted();
        let span = match (fitted.first(), fitted.last()) {
            (Some(first), Some(last)) => last.0 - first.0,
            _ => 0.0,
        };
        if let Some(cycle) = cycle
            && span < CYCLES_FITTED * cycle
        {
            return Some(format!(
                "cannot conclude: the server's memory rises and falls in cycles of up to \
                 {cycle:.0} sessions (garbage collection), and the {span:.0} sessions fitted \
                 (the phase's second half) are fewer than {CYCLES_FITTED:.0} cycles: a cycle's \
                 rise would read as memory kept. Churn at least {:.0} sessions",
                2.0 * CYCLES_FITTED * cycle
            ));
        }
        if ended_without_figure {
            return Some(format!(
                "cannot conclude: {} session(s) ended; the fit needs at least {MIN_SESSIONS} \
                 (it uses the second half of the phase)",
                self.sessions
            ));
        }
        None
    }
}

/// Collection cycles the fitted sessions must span before the memory kept
/// per session of a garbage-collected server is believed.
const CYCLES_FITTED: f64 = 2.0;

/// Fewest sessions a churn phase needs for a figure: the fit takes the second
/// half, and needs 6 points spanning 20 sessions there (`rss_trend`).
pub const MIN_SESSIONS: u64 = 40;

impl PhaseAcc {
    pub(super) fn seconds(&self, now: Instant) -> f64 {
        match self.started {
            Some(start) => self
                .ended
                .unwrap_or(now)
                .duration_since(start)
                .as_secs_f64(),
            None => 0.0,
        }
    }
}

/// The latency window being filled now (one second of wall time).
pub(super) struct OpenWindow {
    pub(super) start: Instant,
    pub(super) calls: CallAcc,
}

#[derive(Default)]
pub(super) struct ProbeAcc {
    pub(super) series: Series<ProbePoint>,
    pub(super) samples: u64,
    pub(super) first: Option<ProbeSample>,
    pub(super) latest: Option<ProbeSample>,
    /// The sample growth counts from, with its time on the run clock.
    pub(super) baseline: Option<(ProbeSample, f64)>,
    /// A restarted server is a new process: its first sample is the baseline
    /// growth and trend count from.
    pub(super) rebaseline: bool,
    /// The lowest RSS, and PSS, sampled since the baseline: growth counts
    /// from this floor, not from a sample that may sit on a sawtooth's peak.
    pub(super) rss_floor: Option<u64>,
    pub(super) pss_floor: Option<u64>,
    pub(super) rss_max: u64,
    pub(super) pss_max: Option<u64>,
    pub(super) fds_max: u32,
    pub(super) threads_max: u32,
    pub(super) cpu_max: f64,
    pub(super) self_rss_max: u64,
    pub(super) members: Vec<Member>,
    pub(super) tree: super::tree_watch::TreeWatch,
    /// RSS with each label's calls made by then, for the per-label
    /// attribution (`stats::attribution`).
    pub(super) by_label: Series<LabelPoint>,
}

impl ProbeAcc {
    /// Growth and trend count from `sample`, taken at `at_s` on the run clock.
    pub(super) fn set_baseline(&mut self, sample: ProbeSample, at_s: f64) {
        self.baseline = Some((sample, at_s));
        self.rss_floor = Some(sample.rss_bytes);
        self.pss_floor = sample.pss_bytes;
    }

    /// Lower the floor to `sample` where it is lower.
    pub(super) fn lower_floor(&mut self, sample: &ProbeSample) {
        if self.baseline.is_none() {
            return;
        }
        self.rss_floor = self.rss_floor.map(|floor| floor.min(sample.rss_bytes));
        self.pss_floor = either_or_both(self.pss_floor, sample.pss_bytes, u64::min);
    }
}

/// `pick` of the two when both are known, else whichever is.
pub(super) fn either_or_both(
    a: Option<u64>,
    b: Option<u64>,
    pick: fn(u64, u64) -> u64,
) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

impl Default for Series<ProbePoint> {
    fn default() -> Self {
        Series::new(SERIES_POINTS)
    }
}

/// A probe sample with every label's calls made by then. Merged, the lower
/// RSS is kept with its counts (and its FDs): a trough survives the series'
/// thinning.
#[derive(Debug, Clone)]
pub(super) struct LabelPoint {
    pub(super) t_s: f64,
    pub(super) rss_bytes: f64,
    pub(super) fds: f64,
    pub(super) calls: Vec<u64>,
}

impl Mergeable for LabelPoint {
    fn merge(&mut self, later: &Self) {
        if later.rss_bytes < self.rss_bytes {
            *self = later.clone();
        }
    }
}

impl Default for Series<LabelPoint> {
    fn default() -> Self {
        Series::new(SERIES_POINTS)
    }
}

#[derive(Default)]
pub(super) struct ColdStartAcc {
    pub(super) iterations: u64,
    pub(super) failed: u64,
    // Welford's running mean and variance of the answered starts' totals, in ms.
    pub(super) count: u64,
    pub(super) mean: f64,
    m2: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) stage_sums_us: [u64; 4],
}

impl ColdStartAcc {
    pub(super) fn record(&mut self, event: &ColdStartEvent) {
        self.iterations += 1;
        if event.outcome != Outcome::Ok {
            self.failed += 1;
        }
        // A server that started and answered — even with an error, as a tool
        // called with arguments it refuses does — was timed all the same.
        let answered = matches!(
            event.outcome,
            Outcome::Ok | Outcome::ToolError | Outcome::RpcError
        );
        if !answered {
            return;
        }
        let ms = event.total_us as f64 / 1000.0;
        self.count += 1;
        let delta = ms - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (ms - self.mean);
        self.min = if self.count == 1 {
            ms
        } else {
            self.min.min(ms)
        };
        self.max = self.max.max(ms);
        for (sum, us) in self.stage_sums_us.iter_mut().zip([
            event.spawn_us,
            event.initialize_us,
            event.call_us,
            event.exit_us,
        ]) {
            *sum += us;
        }
    }

    pub(super) fn snapshot(&self) -> Option<ColdStartSnapshot> {
        if self.iterations == 0 {
            return None;
        }
        let n = self.count.max(1) as f64;
        let stage = |i: usize| self.stage_sums_us[i] as f64 / n / 1000.0;
        Some(ColdStartSnapshot {
            iterations: self.iterations,
            failed: self.failed,
            mean_ms: self.mean,
            stddev_ms: if self.count > 0 {
                (self.m2 / self.count as f64).sqrt()
            } else {
                0.0
            },
            min_ms: self.min,
            max_ms: self.max,
            range_ms: self.max - self.min,
            stage_means: StageMeans {
                spawn_ms: stage(0),
                initialize_ms: stage(1),
                first_call_ms: stage(2),
                exit_ms: stage(3),
            },
        })
    }
}

/// The tree's members with depth and share, parents before children.
pub(super) fn tree_members(
    members: &[Member],
    tree: &super::tree_watch::TreeWatch,
) -> Vec<TreeMember> {
    let total: u64 = members.iter().map(|m| m.rss_bytes).sum();
    let mut depths: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    members
        .iter()
        .map(|m| {
            let depth = depths.get(&m.parent).map_or(0, |d| d + 1);
            depths.insert(m.pid, depth);
            let (rss_growth_mb, pss_growth_mb) = tree.growth_mb(m);
            TreeMember {
                pss_mb: m.pss_bytes.map(|b| b as f64 / MIB),
                rss_growth_mb,
                pss_growth_mb,
                rss_trend_kb_per_call: tree.trend_kb_per_call(m),
                pid: m.pid,
                parent: m.parent,
                name: m.name.clone(),
                depth,
                rss_mb: m.rss_bytes as f64 / MIB,
                rss_share: if total > 0 {
                    m.rss_bytes as f64 / total as f64
                } else {
                    0.0
                },
                fds: m.fds,
                threads: m.threads,
                cpu_percent: m.cpu_percent,
                command: m.command.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn churn(sessions: u64, rss_kb_at: impl Fn(f64) -> f64) -> ChurnAcc {
        let mut acc = ChurnAcc::default();
        for session in 1..=sessions {
            acc.session_ended(Some((rss_kb_at(session as f64) * 1024.0) as u64));
        }
        acc
    }

    #[test]
    fn a_session_leak_reads_in_full() {
        let acc = churn(500, |s| 80_000.0 + 64.0 * s);
        let kb = acc.retained().unwrap().kb_per_call;
        assert!((kb - 64.0).abs() < 0.5, "{kb}");
    }

    #[test]
    fn a_heap_growing_to_its_working_size_is_not_kept_per_session() {
        // 40 MB of growth that levels off over the first 150 sessions.
        let acc = churn(500, |s| 80_000.0 + 40_000.0 * (1.0 - (-s / 50.0).exp()));
        let kb = acc.retained().unwrap().kb_per_call;
        assert!(kb < 1.0, "{kb}");
        // Over every session the growth reads tens of KB: the trend over
        // all of them sees the rate change and gives the later half's.
        let all = rss_trend(&acc.points).unwrap();
        let change = all.later_half.expect("the rate changed");
        assert!(change.whole_run_kb_per_call > 10.0, "{all:?}");
        assert!(all.kb_per_call < 1.0, "{all:?}");
    }

    #[test]
    fn a_collection_cycle_longer_than_the_fit_cannot_conclude() {
        // 70 MB of garbage collected every 300 sessions, no leak (a V8 server).
        let sawtooth = |s: f64| 80_000.0 + (s % 300.0) * 240.0;
        let short = churn(500, sawtooth);
        let cycle = short.longest_cycle();
        assert!(
            cycle.is_some_and(|c| (290.0..=310.0).contains(&c)),
            "{cycle:?}"
        );
        let why = short.inconclusive(cycle, true).expect("inconclusive");
        assert!(
            why.contains("cycles of up to 30") && why.contains("at least 12"),
            "{why}"
        );
        // Enough sessions to fit two cycles: it concludes, and finds nothing kept.
        let long = churn(1500, sawtooth);
        let ended_without_figure = long.retained().is_none();
        assert_eq!(
            long.inconclusive(long.longest_cycle(), ended_without_figure),
            None
        );
        let kb = long.retained().unwrap().kb_per_call;
        assert!(kb.abs() < 5.0, "{kb}");
        // Too few sessions is said, with the number needed, once the phase ended.
        let few = churn(20, |s| 80_000.0 + s);
        assert_eq!(few.inconclusive(None, false), None);
        let why = few.inconclusive(None, true).expect("too few");
        assert!(why.contains("at least 40"), "{why}");
    }
}
