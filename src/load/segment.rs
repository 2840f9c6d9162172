//! `--segment I/N`: the I-th of N shares of a test that N mcpstorm processes
//! (on as many machines) run together against one server, so that the N
//! shares make exactly the whole test.
//!
//! Everything a load counts — calls due on a schedule, workers, sessions,
//! rounds — is striped: item `k` of the whole (from 0) belongs to segment
//! `k mod N`. So every item is in exactly one segment, the shares differ by
//! one item at most, and no rounding can skip or double one (the spirit of
//! k6's execution segments). Times (a phase's length, a stage's) are not
//! split: every segment runs the whole time, with its share of the load.

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::LoadModel;
use crate::engine::{EngineError, PhaseContext};

/// Most segments a test is split into.
pub const MOST_SEGMENTS: u32 = 10_000;

/// One share of a test: `index` (from 0) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub index: u32,
    pub count: u32,
}

impl Segment {
    /// The whole test, unsplit.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    /// `I/N` as the command line writes it: I from 1 to N.
    pub fn parse(text: &str) -> Result<Segment, String> {
        let usage = || format!("expected I/N (the I-th of N segments, 1 ≤ I ≤ N), got {text:?}");
        let (i, n) = text.trim().split_once('/').ok_or_else(usage)?;
        let (i, n): (u32, u32) = (
            i.trim().parse().map_err(|_| usage())?,
            n.trim().parse().map_err(|_| usage())?,
        );
        if n == 0 || i == 0 || i > n {
            return Err(usage());
        }
        if n > MOST_SEGMENTS {
            return Err(format!("at most {MOST_SEGMENTS} segments, got {n}"));
        }
        Ok(Segment {
            index: i - 1,
            count: n,
        })
    }

    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// This segment's share of `whole` items: those `k < whole` with
    /// `k mod count == index`.
    pub fn share(self, whole: u64) -> u64 {
        Stripe::of(self).count_in(whole)
    }

    /// This segment's share of `whole` items spread over `workers` the way
    /// a closed model's shared budget is (item `k` to worker
    /// `k mod workers`), the workers themselves striped over the segments:
    /// the items of this segment's workers.
    pub fn share_of_workers(self, workers: u64, whole: u64) -> u64 {
        (u64::from(self.index)..workers)
            .step_by(self.count as usize)
            .map(|worker| {
                Stripe {
                    first: worker,
                    stride: workers,
                }
                .count_in(whole)
            })
            .sum()
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// Every `stride`-th item of a sequence from item `first`: the items of a
/// schedule one segment sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stripe {
    pub first: u64,
    pub stride: u64,
}

impl Stripe {
    pub const WHOLE: Stripe = Stripe {
        first: 0,
        stride: 1,
    };

    pub fn of(segment: Segment) -> Stripe {
        Stripe {
            first: u64::from(segment.index),
            stride: u64::from(segment.count),
        }
    }

    pub fn is_whole(self) -> bool {
        self.stride == 1
    }

    /// How many of the items `0..whole` are in the stripe.
    pub fn count_in(self, whole: u64) -> u64 {
        if whole <= self.first {
            0
        } else {
            (whole - self.first - 1) / self.stride + 1
        }
    }
}

/// How a striped schedule's description ends: which of its calls this
/// segment sends (nothing for the whole).
impl fmt::Display for Stripe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_whole() {
            return Ok(());
        }
        write!(
            f,
            "; segment {}/{}: 1 call in {}",
            self.first + 1,
            self.stride,
            self.stride
        )
    }
}

/// A phase of which this segment holds nothing (its one worker, its one
/// round, are another segment's): it ends at once, saying so.
#[derive(Debug)]
pub struct NoShare {
    /// The phase's load, whole.
    pub whole: String,
    pub segment: Segment,
}

impl fmt::Display for NoShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "none of it in segment {} ({}, split by {} segments)",
            self.segment, self.whole, self.segment.count
        )
    }
}

impl LoadModel for NoShare {
    fn planned_calls(&self) -> Option<u64> {
        Some(0)
    }

    fn follows_the_dial(&self) -> bool {
        false
    }

    fn uses_the_session(&self) -> bool {
        false
    }

    fn segment(&self, _segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        Err("it is a segment's already".into())
    }

    fn run<'a>(&'a self, _phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        async { Ok(()) }.boxed()
    }
}

/// `model`'s share, or the phase's [`NoShare`] when the share is nothing.
pub fn or_nothing(
    share: u64,
    whole: &dyn LoadModel,
    segment: Segment,
    model: impl FnOnce() -> Arc<dyn LoadModel>,
) -> Arc<dyn LoadModel> {
    if share == 0 {
        Arc::new(NoShare {
            whole: whole.to_string(),
            segment,
        })
    } else {
        model()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_i_of_n_and_refuses_what_is_not_a_segment() {
        assert_eq!(Segment::parse("2/4"), Ok(Segment { index: 1, count: 4 }));
        assert_eq!(Segment::parse("1/1"), Ok(Segment::WHOLE));
        assert_eq!(Segment::parse("3/4").unwrap().to_string(), "3/4");
        for bad in ["0/4", "5/4", "1/0", "4", "a/b", "-1/4", "1/4/2", ""] {
            let e = Segment::parse(bad).unwrap_err();
            assert!(e.contains("expected I/N"), "{bad}: {e}");
        }
        assert!(Segment::parse("1/10001").unwrap_err().contains("at most"));
    }

    #[test]
    fn the_shares_make_the_whole_with_nothing_skipped_or_doubled() {
        for count in 1..=7u32 {
            for whole in 0..=50u64 {
                let segments = (0..count).map(|index| Segment { index, count });
                let shares: Vec<u64> = segments.clone().map(|s| s.share(whole)).collect();
                assert_eq!(shares.iter().sum::<u64>(), whole, "{count} {whole}");
                // Each item counted once: by the stripe it falls in.
                for (index, share) in shares.iter().enumerate() {
                    let items = (0..whole).filter(|k| k % u64::from(count) == index as u64);
                    assert_eq!(items.count() as u64, *share);
                }
                // Shares differ by one item at most.
                let (most, least) = (shares.iter().max(), shares.iter().min());
                assert!(most.zip(least).is_none_or(|(m, l)| m - l <= 1));
                for workers in 1..=9u64 {
                    let total: u64 = segments
                        .clone()
                        .map(|s| s.share_of_workers(workers, whole))
                        .sum();
                    assert_eq!(total, whole, "{count} segments, {workers} workers");
                }
            }
        }
    }

    #[test]
    fn every_kind_that_splits_plans_the_whole_over_its_segments() {
        use crate::load::tests::parsed;
        for load in [
            r#"kind = "sequential", calls = 17"#,
            r#"kind = "concurrent", workers = 3, calls = 100"#,
            r#"kind = "concurrent", workers = 7, batches = 4"#,
            r#"kind = "rate", rate = 40, calls = 401"#,
            r#"kind = "rate", rate = 40, duration_s = 2.5, max_in_flight = 3"#,
            r#"kind = "ramping_rate", start_rate = 5, stages = [{ rate = 100, duration_s = 3 }]"#,
            r#"kind = "churn", sessions = 5, calls_per_session = 3"#,
            r#"kind = "robustness", rounds = 3"#,
        ] {
            let whole = parsed(load);
            for count in [1, 2, 3, 4, 7, 16] {
                let planned: u64 = (0..count)
                    .map(|index| {
                        let share = whole.segment(Segment { index, count }).unwrap();
                        share.planned_calls().unwrap_or(0)
                    })
                    .sum();
                assert_eq!(
                    Some(planned),
                    whole.planned_calls().or(Some(0)),
                    "{load}, {count}"
                );
            }
        }
        for refused in [
            r#"kind = "coldstart", iterations = 3"#,
            r#"kind = "capacity", p99_ms = 100"#,
            r#"kind = "sessions", arrival_rate = 5, duration_s = 10"#,
        ] {
            let why = parsed(refused).segment(Segment { index: 0, count: 2 });
            assert!(why.is_err(), "{refused}");
        }
    }
}
