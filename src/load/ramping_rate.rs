//! `kind = "ramping_rate"`: the open model with a rate that moves, as k6's
//! ramping-arrival-rate executor: `stages = [{ rate = 100, duration_s = 30 },
//! …]`, each stage going linearly from the rate before it (`start_rate`, 0
//! by default, for the first) to its own over its duration. Calls are due
//! where the schedule's running total of calls reaches each whole number,
//! and are sent then whatever the server does; a call's latency counts from
//! its due time, as in `rate`.
//!
//! The schedule is its own: the load dial does not change it (a ramp already
//! says how the load moves); a pause shifts what is left of it. How far
//! behind schedule each stage's sends left goes to the report
//! (`Event::Stages`) when the ramp ends.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::open_loop::{LATE, Schedule, send_on_schedule};
use super::segment::{Segment, Stripe, or_nothing};
use super::stages::Stages;
use super::{LoadModel, ModelKind};
use crate::engine::{EngineError, PhaseContext, PhaseRunner};
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;
use crate::stats::{Event, StageSends};

pub const MODEL: ModelKind = ModelKind {
    kind: "ramping_rate",
    keys: &["start_rate", "stages", "max_in_flight"],
    parse,
};

/// Calls per second a stage may reach (0: the ramp down to nothing).
const RATE: RangeInclusive<f64> = 0.0..=100_000.0;
/// Calls in flight at most, when capped.
const MAX_IN_FLIGHT: RangeInclusive<u64> = 1..=100_000;

#[derive(Debug, Clone, PartialEq)]
pub struct RampingRate {
    /// Calls per second over the phase.
    pub rate: Stages,
    /// A due call waits while this many are in flight.
    pub max_in_flight: Option<u64>,
    /// The calls of the whole ramp this process sends (`--segment`).
    pub stripe: Stripe,
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let ramp = RampingRate {
        rate: Stages::parse(keys, "rate", RATE, "start_rate", 0.0, "calls/s")?,
        max_in_flight: keys.whole("max_in_flight", MAX_IN_FLIGHT)?,
        stripe: Stripe::WHOLE,
    };
    if ramp.rate.integral() < 1.0 {
        return Err(keys.error(
            "stages",
            "the stages hold less than one call: raise a stage's rate or duration",
        ));
    }
    Ok(Arc::new(ramp))
}

impl RampingRate {
    /// When call `n` (from 0) is due, after the phase's start; `None` past
    /// the schedule's end. Call `n` is due where the running total of
    /// calls, the integral of the rate, reaches `n`.
    pub fn due(&self, n: u64) -> Option<Duration> {
        let target = n as f64;
        let (mut before, mut elapsed) = (0.0, 0.0);
        for (r0, r1, length) in self.rate.segments() {
            let in_stage = (r0 + r1) / 2.0 * length;
            if before + in_stage >= target {
                // calls(s) = r0·s + (r1 − r0)·s² / (2·length) = target − before.
                let wanted = target - before;
                let slope = (r1 - r0) / length;
                let s = if slope.abs() < 1e-12 {
                    if r0 > 0.0 { wanted / r0 } else { 0.0 }
                } else {
                    // The root of slope/2·s² + r0·s − wanted = 0 in [0, length].
                    let discriminant = (r0 * r0 + 2.0 * slope * wanted).max(0.0);
                    (-r0 + discriminant.sqrt()) / slope
                };
                return Some(Duration::from_secs_f64(elapsed + s.clamp(0.0, length)));
            }
            before += in_stage;
            elapsed += length;
        }
        None
    }
}

impl fmt::Display for RampingRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rate)?;
        match self.max_in_flight {
            Some(most) => write!(f, ", at most {most} in flight"),
            None => Ok(()),
        }?;
        write!(f, "{}", self.stripe)
    }
}

impl LoadModel for RampingRate {
    fn follows_the_dial(&self) -> bool {
        false
    }

    fn target_per_s(&self) -> Option<f64> {
        Some(self.rate.peak() / self.stripe.stride as f64)
    }

    fn target_ramp(&self) -> Option<Vec<(f64, f64)>> {
        let share = self.stripe.stride as f64;
        Some(
            self.rate
                .points()
                .into_iter()
                .map(|(at_s, per_s)| (at_s, per_s / share))
                .collect(),
        )
    }

    fn planned_calls(&self) -> Option<u64> {
        // Call n is sent when the total reaches n, from 0: ⌊total⌋ + 1 calls.
        Some(
            self.stripe
                .count_in(self.rate.integral().floor() as u64 + 1),
        )
    }

    fn segment(&self, segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        let striped = RampingRate {
            stripe: Stripe::of(segment),
            max_in_flight: self.max_in_flight.map(|most| segment.share(most).max(1)),
            ..self.clone()
        };
        Ok(or_nothing(
            striped.planned_calls().unwrap_or(1),
            self,
            segment,
            || Arc::new(striped.clone()),
        ))
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        let ramp = self.clone();
        async move {
            let runner = phase.sampling_runner()?;
            let max_in_flight = ramp.max_in_flight;
            let first = ramp.stripe.first;
            let mut schedule = OnRamp {
                sends: vec![StageTally::default(); ramp.rate.stages.len()],
                ramp,
                start: Instant::now(),
                n: first,
                stage: 0,
            };
            let _ = tokio::spawn(async move {
                send_on_schedule(&runner, max_in_flight, &mut schedule, |_| {}).await;
                let _ = runner.events.send(Event::Stages {
                    phase: runner.phase_index,
                    stages: schedule.stage_sends(),
                });
            })
            .await;
            Ok(())
        }
        .boxed()
    }
}

/// A ramp's schedule: call `n` at the phase's start plus `due(n)`, the
/// start moved on by every pause.
struct OnRamp {
    ramp: RampingRate,
    start: Instant,
    n: u64,
    /// The stage call `n` falls in, and each stage's sends so far.
    stage: usize,
    sends: Vec<StageTally>,
}

#[derive(Debug, Clone, Copy, Default)]
struct StageTally {
    sent: u64,
    late: u64,
    lag_total: Duration,
    lag_most: Duration,
}

impl OnRamp {
    fn stage_sends(&self) -> Vec<StageSends> {
        let ms = |lag: Duration| lag.as_secs_f64() * 1000.0;
        self.ramp
            .rate
            .segments()
            .zip(&self.sends)
            .map(|((from, to, seconds), tally)| StageSends {
                from_per_s: from,
                to_per_s: to,
                duration_s: seconds,
                sent: tally.sent,
                late_sends: tally.late,
                max_send_lag_ms: ms(tally.lag_most),
                mean_send_lag_ms: if tally.sent > 0 {
                    ms(tally.lag_total) / tally.sent as f64
                } else {
                    0.0
                },
            })
            .collect()
    }
}

impl Schedule for OnRamp {
    fn next(&mut self, _: &PhaseRunner) -> Option<(Instant, Duration)> {
        let offset = self.ramp.due(self.n)?;
        // The interval the timer keeps if nothing moves: the rate's here.
        let every = Duration::from_secs_f64(
            self.ramp.stripe.stride as f64 / self.ramp.rate.at(offset).max(0.001),
        );
        self.stage = self.ramp.rate.index_at(offset);
        Some((self.start + offset, every))
    }

    fn sent(&mut self, lag: Duration) {
        self.n += self.ramp.stripe.stride;
        if let Some(tally) = self.sends.get_mut(self.stage) {
            tally.sent += 1;
            tally.late += u64::from(lag > LATE);
            tally.lag_total += lag;
            tally.lag_most = tally.lag_most.max(lag);
        }
    }

    fn resumed(&mut self, paused_at: Instant, resumed: Instant) {
        self.start += resumed.saturating_duration_since(paused_at);
    }
}

#[cfg(test)]
mod tests {
    use super::super::stages::Stage;
    use super::super::tests::{parse_error, parsed};
    use super::*;

    fn ramp(start_rate: f64, stages: &[(f64, f64)]) -> RampingRate {
        RampingRate {
            rate: Stages {
                start: start_rate,
                stages: stages
                    .iter()
                    .map(|&(to, seconds)| Stage { to, seconds })
                    .collect(),
                unit: "calls/s",
            },
            max_in_flight: None,
            stripe: Stripe::WHOLE,
        }
    }

    #[test]
    fn calls_are_due_where_the_rate_s_integral_reaches_them() {
        // A steady 10 calls/s: one every 100 ms, from 0.
        let steady = ramp(10.0, &[(10.0, 2.0)]);
        assert_eq!(steady.due(0), Some(Duration::ZERO));
        assert_eq!(steady.due(5), Some(Duration::from_millis(500)));
        assert_eq!(steady.due(20), Some(Duration::from_secs(2)));
        assert_eq!(steady.due(21), None);
        assert_eq!(steady.planned_calls(), Some(21));
        // 0 → 100 calls/s over 2 s: 100 calls, the n-th at √(n/25) s.
        let up = ramp(0.0, &[(100.0, 2.0)]);
        for n in [1, 25, 64, 100] {
            let expected = (n as f64 / 25.0).sqrt();
            let due = up.due(n).unwrap().as_secs_f64();
            assert!(
                (due - expected).abs() < 1e-9,
                "{n}: {due} against {expected}"
            );
        }
        assert_eq!(up.due(101), None);
        // Down again, then a hold: the stages follow on.
        let there_and_back = ramp(0.0, &[(100.0, 2.0), (0.0, 2.0), (50.0, 0.001), (50.0, 1.0)]);
        let at_top = there_and_back.due(100).unwrap().as_secs_f64();
        assert!((at_top - 2.0).abs() < 1e-9, "{at_top}");
        let back_down = there_and_back.due(199).unwrap().as_secs_f64();
        assert!(back_down > 3.5 && back_down < 4.0, "{back_down}");
        let held = there_and_back.due(225).unwrap().as_secs_f64();
        assert!((held - 4.5).abs() < 0.01, "{held}");
    }

    #[test]
    fn every_due_time_comes_after_the_one_before() {
        let ramp = ramp(3.0, &[(700.0, 1.5), (700.0, 0.5), (20.0, 2.0), (0.0, 0.25)]);
        let mut last = Duration::ZERO;
        let mut n = 0;
        while let Some(due) = ramp.due(n) {
            assert!(due >= last, "call {n} at {due:?} before {last:?}");
            last = due;
            n += 1;
        }
        assert_eq!(Some(n), ramp.planned_calls());
    }

    #[test]
    fn a_ramp_is_read_from_its_stages() {
        let model = parsed(
            r#"kind = "ramping_rate", start_rate = 10, stages = [{ rate = 100, duration_s = 30 }, { rate = 100, duration_s = 60 }]"#,
        );
        assert_eq!(
            model.to_string(),
            "10 → 100 calls/s over 30 s, 100 calls/s for 60 s"
        );
        assert_eq!(model.planned_calls(), Some(1650 + 6000 + 1));
        assert_eq!(model.target_per_s(), Some(100.0));
        let e = parse_error(r#"kind = "ramping_rate""#);
        assert!(e.contains("needs `stages`"), "{e}");
        let e = parse_error(r#"kind = "ramping_rate", stages = [{ rate = -1, duration_s = 3 }]"#);
        assert!(e.contains("stages[0].rate must be a number from 0"), "{e}");
        let e = parse_error(r#"kind = "ramping_rate", stages = [{ rate = 5, seconds = 3 }]"#);
        assert!(e.contains("stages[0] does not take `seconds`"), "{e}");
        let e = parse_error(r#"kind = "ramping_rate", stages = []"#);
        assert!(e.contains("list of 1 to 1000 tables"), "{e}");
        let e = parse_error(r#"kind = "ramping_rate", stages = [{ rate = 0, duration_s = 3 }]"#);
        assert!(e.contains("less than one call"), "{e}");
    }
}
