//! `kind = "concurrent"`: N workers at once. Either each worker sends its
//! next call as soon as the last one returned (the closed model, for `calls`
//! or `duration_s`), or, with `batches`, N calls are sent together and the
//! next batch waits for all of them.

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::task::JoinSet;

use super::closed_loop::{self, Workers};
use super::segment::{Segment, or_nothing};
use super::{LoadModel, ModelKind};
use crate::engine::{EngineError, PhaseContext, PhaseRunner};
use crate::scenario::Amount;
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::{LoadKeys, MAX_CALLS};

pub const MODEL: ModelKind = ModelKind {
    kind: "concurrent",
    keys: &["workers", "calls", "duration_s", "batches"],
    parse,
};

/// More workers than any machine has threads is a mistake, not a test.
const MAX_WORKERS: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concurrent {
    pub workers: u32,
    pub pace: Pace,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each worker sends its next call when its last one returned.
    Closed(Amount),
    /// This many batches of `workers` calls sent together.
    Batches(u32),
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let workers = keys.required_whole("workers", 1..=MAX_WORKERS)? as u32;
    let pace = match keys.whole("batches", 1..=MAX_CALLS)? {
        Some(batches) => {
            for other in ["calls", "duration_s"] {
                if keys.has(other) {
                    return Err(keys.error(
                        other,
                        format!("`{other}` does not apply to batches: give `batches` or `{other}`"),
                    ));
                }
            }
            Pace::Batches(batches as u32)
        }
        None => Pace::Closed(keys.amount()?),
    };
    Ok(Arc::new(Concurrent { workers, pace }))
}

impl fmt::Display for Concurrent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pace {
            Pace::Closed(amount) => write!(f, "{} workers, {amount}", self.workers),
            Pace::Batches(batches) => write!(f, "{} parallel × {batches} batches", self.workers),
        }
    }
}

impl LoadModel for Concurrent {
    fn planned_calls(&self) -> Option<u64> {
        match self.pace {
            Pace::Closed(amount) => amount.calls(),
            Pace::Batches(batches) => Some(u64::from(self.workers) * u64::from(batches)),
        }
    }

    fn segment(&self, segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        let workers = segment.share(u64::from(self.workers));
        let pace = match self.pace {
            Pace::Closed(Amount::Calls(calls)) => Pace::Closed(Amount::Calls(
                segment.share_of_workers(u64::from(self.workers), calls),
            )),
            other => other,
        };
        let share = match pace {
            Pace::Closed(Amount::Calls(calls)) => calls.min(workers),
            _ => workers,
        };
        Ok(or_nothing(share, self, segment, || {
            Arc::new(Concurrent {
                workers: workers as u32,
                pace,
            })
        }))
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        async move {
            let runner = phase.sampling_runner()?;
            match self.pace {
                Pace::Closed(amount) => {
                    closed_loop::run(&runner, Workers::Dialed(self.workers), amount).await
                }
                Pace::Batches(batches) => run_batches(&runner, self.workers, batches).await,
            }
            Ok(())
        }
        .boxed()
    }
}

/// Batches of `workers` calls sent together; the next batch waits for all.
async fn run_batches(runner: &PhaseRunner, workers: u32, batches: u32) {
    for _ in 0..batches {
        runner.control.wait_unpaused().await;
        if runner.halt.is_set() {
            return;
        }
        let mut tasks = JoinSet::new();
        for worker in 0..runner.control.scaled_workers(workers) as u64 {
            let runner = runner.clone();
            tasks.spawn(async move { runner.call(worker, None).await });
        }
        while tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse_error, parsed};

    #[test]
    fn plans_workers_times_batches_or_its_calls() {
        let batches = parsed(r#"kind = "concurrent", workers = 4, batches = 25"#);
        assert_eq!(batches.planned_calls(), Some(100));
        assert_eq!(batches.to_string(), "4 parallel × 25 batches");
        let closed = parsed(r#"kind = "concurrent", workers = 3, calls = 10"#);
        assert_eq!(closed.planned_calls(), Some(10));
        assert_eq!(closed.to_string(), "3 workers, 10 calls");
        let timed = parsed(r#"kind = "concurrent", workers = 3, duration_s = 1"#);
        assert_eq!(timed.planned_calls(), None);
    }

    #[test]
    fn batches_take_no_calls_and_workers_are_required() {
        let e = parse_error(r#"kind = "concurrent", workers = 2, batches = 3, calls = 5"#);
        assert!(e.contains("load.calls") && e.contains("batches"), "{e}");
        let e = parse_error(r#"kind = "concurrent", calls = 5"#);
        assert!(e.contains("needs `workers`"), "{e}");
    }
}
