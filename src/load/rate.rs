//! `kind = "rate"`: the open model. Calls are due one interval apart and
//! sent then, whatever the server is doing, with no cap on calls in flight
//! unless `max_in_flight` sets one (then a due call waits for a call to end,
//! in mcpstorm rather than in a slow server's input); a call's latency
//! counts from its due time, so a stall cannot hide either way.
//!
//! The sending loop is the open model's (`open_loop.rs`); this file is its
//! schedule.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::open_loop::{Schedule, send_on_schedule};
use super::segment::{Segment, Stripe, or_nothing};
use super::{LoadModel, ModelKind};
use crate::engine::{EngineError, PhaseContext, PhaseRunner};
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
    /// The calls of the whole schedule this process sends (`--segment`).
    pub stripe: Stripe,
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let per_second = keys
        .number("rate", RATE)?
        .ok_or_else(|| keys.missing("rate", "calls per second"))?;
    Ok(Arc::new(Rate {
        per_second,
        amount: keys.amount()?,
        max_in_flight: keys.whole("max_in_flight", MAX_IN_FLIGHT)?,
        stripe: Stripe::WHOLE,
    }))
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} calls/s, {}", self.per_second, self.amount)?;
        match self.max_in_flight {
            Some(most) => write!(f, ", at most {most} in flight"),
            None => Ok(()),
        }?;
        write!(f, "{}", self.stripe)
    }
}

impl LoadModel for Rate {
    fn target_per_s(&self) -> Option<f64> {
        Some(self.per_second / self.stripe.stride as f64)
    }

    fn planned_calls(&self) -> Option<u64> {
        Some(self.stripe.count_in(match self.amount {
            Amount::Calls(n) => n,
            Amount::Duration(d) => (self.per_second * d.as_secs_f64()).floor() as u64,
        }))
    }

    fn segment(&self, segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        // Every N-th call of the whole schedule, at its time there; a cap on
        // calls in flight split as the calls are, at least one.
        let striped = Rate {
            stripe: Stripe::of(segment),
            max_in_flight: self.max_in_flight.map(|most| segment.share(most).max(1)),
            ..*self
        };
        Ok(or_nothing(
            striped.planned_calls().unwrap_or(1),
            self,
            segment,
            || Arc::new(striped),
        ))
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        let rate = *self;
        async move {
            let runner = phase.sampling_runner()?;
            let schedule = Steady {
                rate,
                due: Instant::now(),
                offset: Duration::ZERO,
                call: rate.stripe.first,
                placed: false,
                step: Duration::ZERO,
            };
            let _ = tokio::spawn(async move {
                let mut schedule = schedule;
                send_on_schedule(&runner, rate.max_in_flight, &mut schedule, |_| {}).await
            })
            .await;
            Ok(())
        }
        .boxed()
    }
}

/// `rate`'s schedule: one call every 1/rate seconds (the dial scaling the
/// rate), for so many calls or so long; after a pause, a fresh schedule
/// rather than the missed calls fired at once.
struct Steady {
    rate: Rate,
    due: Instant,
    /// Where `due` stands on the phase's own schedule: paused time is not in it.
    offset: Duration,
    /// The call of the whole schedule `due` is for (a segment sends every
    /// stride-th from its first).
    call: u64,
    /// Whether `due` and `offset` were moved on to the stripe's first call.
    placed: bool,
    step: Duration,
}

impl Schedule for Steady {
    fn next(&mut self, runner: &PhaseRunner) -> Option<(Instant, Duration)> {
        self.step = Duration::from_secs_f64(1.0 / (self.rate.per_second * runner.control.scale()));
        if !std::mem::replace(&mut self.placed, true) {
            let first = self.step * self.rate.stripe.first as u32;
            self.due += first;
            self.offset += first;
        }
        let more = match self.rate.amount {
            Amount::Calls(n) => self.call < n,
            Amount::Duration(d) => self.offset < d,
        };
        let every = self.step * self.rate.stripe.stride as u32;
        more.then_some((self.due, every))
    }

    fn sent(&mut self, _lag: Duration) {
        let every = self.step * self.rate.stripe.stride as u32;
        self.call += self.rate.stripe.stride;
        self.due += every;
        self.offset += every;
    }

    fn resumed(&mut self, _paused_at: Instant, resumed: Instant) {
        self.due = resumed;
    }
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
