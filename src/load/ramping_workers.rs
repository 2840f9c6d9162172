//! `kind = "ramping_workers"`: the closed model with a number of workers
//! that moves, as k6's ramping-VUs executor: `stages = [{ workers = 50,
//! duration_s = 30 }, …]`, each stage going linearly from the workers before
//! it (`start_workers`, 1 by default, for the first) to its own. The number
//! wanted is rounded to whole workers; a worker joins or retires between
//! calls (a call in flight is never cut short), looked at every 100 ms.
//!
//! The schedule is its own: the load dial does not change it; a pause
//! stops its clock.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::closed_loop::{self, Workers};
use super::segment::{Segment, Stripe, or_nothing};
use super::stages::Stages;
use super::{LoadModel, ModelKind};
use crate::engine::{EngineError, PhaseContext};
use crate::scenario::Amount;
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;

pub const MODEL: ModelKind = ModelKind {
    kind: "ramping_workers",
    keys: &["start_workers", "stages"],
    parse,
};

/// Workers a stage may reach (0: the ramp down to none).
const WORKERS: RangeInclusive<f64> = 0.0..=10_000.0;

#[derive(Debug, Clone, PartialEq)]
pub struct RampingWorkers {
    pub workers: Stages,
    /// The workers of the whole ramp this process runs (`--segment`).
    pub stripe: Stripe,
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let workers = Stages::parse(keys, "workers", WORKERS, "start_workers", 1.0, "workers")?;
    if workers.peak() < 1.0 {
        return Err(keys.error("stages", "the stages never reach one worker"));
    }
    Ok(Arc::new(RampingWorkers {
        workers,
        stripe: Stripe::WHOLE,
    }))
}

impl fmt::Display for RampingWorkers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.workers)?;
        if !self.stripe.is_whole() {
            let (segment, count) = (self.stripe.first + 1, self.stripe.stride);
            write!(f, "; segment {segment}/{count}: 1 worker in {count}")?;
        }
        Ok(())
    }
}

impl LoadModel for RampingWorkers {
    fn follows_the_dial(&self) -> bool {
        false
    }

    fn planned_calls(&self) -> Option<u64> {
        None
    }

    fn segment(&self, segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        let striped = RampingWorkers {
            stripe: Stripe::of(segment),
            ..self.clone()
        };
        // Nothing when the ramp never reaches this segment's first worker.
        let most = striped.stripe.count_in(self.workers.peak().round() as u64);
        Ok(or_nothing(most, self, segment, || {
            Arc::new(striped.clone())
        }))
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        let (schedule, stripe) = (self.workers.clone(), self.stripe);
        async move {
            let runner = phase.sampling_runner()?;
            let duration = schedule.duration();
            let wanted = Workers::Scheduled(Arc::new(move |at| {
                // Rounded to whole workers (at most 10,000: the range read),
                // this segment's of them.
                stripe.count_in(schedule.at(at).round() as u64) as u32
            }));
            closed_loop::run(&runner, wanted, Amount::Duration(duration)).await;
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse_error, parsed};

    #[test]
    fn a_ramp_of_workers_is_read_from_its_stages() {
        let model = parsed(
            r#"kind = "ramping_workers", stages = [{ workers = 8, duration_s = 2 }, { workers = 0, duration_s = 1 }]"#,
        );
        assert_eq!(
            model.to_string(),
            "1 → 8 workers over 2 s, 8 → 0 workers over 1 s"
        );
        assert_eq!(model.planned_calls(), None);
        assert!(!model.follows_the_dial());
        let e = parse_error(
            r#"kind = "ramping_workers", stages = [{ workers = 0.5, duration_s = 2 }], start_workers = 0"#,
        );
        assert!(e.contains("never reach one worker"), "{e}");
        let e = parse_error(
            r#"kind = "ramping_workers", stages = [{ workers = 20000, duration_s = 2 }]"#,
        );
        assert!(
            e.contains("stages[0].workers must be a number from 0 to 10000"),
            "{e}"
        );
    }
}
