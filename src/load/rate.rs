//! `kind = "rate"`: the open model. Calls are due one interval apart and
//! sent then, whatever the server is doing, with no cap on calls in flight
//! unless `max_in_flight` sets one (then a due call waits for a call to end,
//! in mcpstorm rather than in a slow server's input); a call's latency
//! counts from its due time, so a stall cannot hide either way.
//!
//! The schedule is kept by a task of its own with a [`Pacer`]
//! (microsecond-precise), on a runtime worker rather than on the thread that
//! started the run, and each call is a task it spawns there. At a moderate
//! rate a call then costs two wake-ups, its due time and its answer, and no
//! hand-off between threads.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{LoadModel, ModelKind};
use crate::engine::{EngineError, PhaseContext, PhaseRunner};
use crate::pacer::Pacer;
use crate::scenario::Amount;
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;

pub const MODEL: ModelKind = ModelKind {
    kind: "rate",
    keys: &["rate", "calls", "duration_s", "max_in_flight"],
    parse,
};

/// Calls per second: one per 100 s and more; far beyond 100,000 the schedule
/// would pile up calls faster than any server answers them.
const RATE: RangeInclusive<f64> = 0.01..=100_000.0;

/// Calls in flight at most, when capped.
const MAX_IN_FLIGHT: RangeInclusive<u64> = 1..=100_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub amount: Amount,
    /// A due call waits while this many are in flight.
    pub max_in_flight: Option<u64>,
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let per_second = keys
        .number("rate", RATE)?
        .ok_or_else(|| keys.missing("rate", "calls per second"))?;
    Ok(Arc::new(Rate {
        per_second,
        amount: keys.amount()?,
        max_in_flight: keys.whole("max_in_flight", MAX_IN_FLIGHT)?,
    }))
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} calls/s, {}", self.per_second, self.amount)?;
        match self.max_in_flight {
            Some(most) => write!(f, ", at most {most} in flight"),
            None => Ok(()),
        }
    }
}

impl LoadModel for Rate {
    fn target_per_s(&self) -> Option<f64> {
        Some(self.per_second)
    }

    fn planned_calls(&self) -> Option<u64> {
        Some(match self.amount {
            Amount::Calls(n) => n,
            Amount::Duration(d) => (self.per_second * d.as_secs_f64()).floor() as u64,
        })
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        let rate = *self;
        async move {
            let runner = phase.sampling_runner()?;
            let _ = tokio::spawn(keep_schedule(runner, rate)).await;
            Ok(())
        }
        .boxed()
    }
}

async fn keep_schedule(runner: PhaseRunner, rate: Rate) {
    let Rate {
        per_second,
        amount,
        max_in_flight,
    } = rate;
    let cap = max_in_flight.map(|most| {
        Arc::new(tokio::sync::Semaphore::new(
            usize::try_from(most).unwrap_or(usize::MAX),
        ))
    });
    let mut pacer = match Pacer::new() {
        Ok(pacer) => pacer,
        Err(error) => {
            runner.note(format!(
                "the open model's timer could not be created: {error}"
            ));
            return;
        }
    };
    // Every call holds a clone of `in_flight`; the receiver sees the
    // channel close when the last one is done. Nothing is ever sent, so
    // no call wakes this task but the last.
    let (in_flight, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    let mut due = Instant::now();
    // Where `due` stands on the phase's own schedule: paused time is not in it.
    let mut offset = Duration::ZERO;
    let mut sent = 0u64;
    loop {
        let more = match amount {
            Amount::Calls(n) => sent < n,
            Amount::Duration(d) => offset < d,
        };
        if !more {
            break;
        }
        let step = Duration::from_secs_f64(1.0 / (per_second * runner.control.scale()));
        tokio::select! {
            biased;
            _ = runner.halt.wait() => break,
            _ = runner.control.wait_paused() => {
                tokio::select! {
                    _ = runner.halt.wait() => break,
                    _ = runner.control.wait_unpaused() => {}
                }
                // Resume on a fresh schedule rather than fire the missed calls at once.
                due = Instant::now();
                continue;
            }
            slept = pacer.sleep_until(due, step) => if let Err(error) = slept {
                runner.note(format!("the open model's timer failed: {error}"));
                break;
            }
        }
        // Capped: wait for a call to end; the call is still due when it
        // was, so the wait shows in its latency and as a late send.
        let permit = match &cap {
            Some(cap) => tokio::select! {
                biased;
                _ = runner.halt.wait() => break,
                permit = cap.clone().acquire_owned() => permit.ok(),
            },
            None => None,
        };
        let caller = runner.clone();
        let done = in_flight.clone();
        // Boxed: the call's future is large, and tokio would otherwise
        // copy it whole into the task and again through its stages.
        tokio::spawn(Box::pin(async move {
            caller.call(0, Some(due)).await;
            drop((done, permit));
        }));
        sent += 1;
        due += step;
        offset += step;
    }
    drop(in_flight);
    let _ = all_done.recv().await;
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse_error, parsed};

    #[test]
    fn plans_the_calls_its_schedule_holds() {
        let timed = parsed(r#"kind = "rate", rate = 40, duration_s = 2.5"#);
        assert_eq!(timed.planned_calls(), Some(100));
        assert_eq!(timed.to_string(), "40 calls/s, 2.5 s");
        let counted = parsed(r#"kind = "rate", rate = 0.5, calls = 3"#);
        assert_eq!(counted.planned_calls(), Some(3));
        let e = parse_error(r#"kind = "rate", calls = 3"#);
        assert!(e.contains("needs `rate` (calls per second)"), "{e}");
        let capped = parsed(r#"kind = "rate", rate = 10, calls = 3, max_in_flight = 4"#);
        assert_eq!(
            capped.to_string(),
            "10 calls/s, 3 calls, at most 4 in flight"
        );
        let e = parse_error(r#"kind = "rate", rate = 10, calls = 3, max_in_flight = 0"#);
        assert!(e.contains("max_in_flight"), "{e}");
    }
}
