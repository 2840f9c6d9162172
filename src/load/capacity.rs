//! `kind = "capacity"`: how much load the server takes before its objective
//! breaks. The open model at one rate after another, each held `step_s`:
//! the rate doubles from `start_rate` while the objective holds, then the
//! search bisects between the last rate that met it and the first that did
//! not, `refine` times. A step meets the objective when its calls' p99 (from
//! their due times) is within `p99_ms`, their success rate at least
//! `success_rate`, and the server answered at least 90 % of the rate asked.
//!
//! The generator must not be the limit: a step whose sends left more than
//! 2 ms late for over 5 % of its calls stops the search, said as mcpstorm's
//! limit, not the server's. Each step is said in the run's notes as it ends,
//! and the result goes to the report (`Event::Capacity`).

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::open_loop::{Schedule, Sent, send_on_schedule};
use super::{LoadModel, ModelKind};
use crate::engine::{EngineError, PhaseContext, PhaseRunner};
use crate::protocol::Outcome;
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;
use crate::stats::{CapacityResult, CapacityStep, Event, LatencyHistogram};

pub const MODEL: ModelKind = ModelKind {
    kind: "capacity",
    keys: &[
        "start_rate",
        "max_rate",
        "step_s",
        "refine",
        "p99_ms",
        "success_rate",
        "max_in_flight",
    ],
    parse,
};

const RATE: RangeInclusive<f64> = 0.01..=100_000.0;
const STEP_S: RangeInclusive<f64> = 0.1..=3_600.0;
const REFINE: RangeInclusive<u64> = 0..=20;
const P99_MS: RangeInclusive<f64> = 0.001..=3_600_000.0;
const SUCCESS: RangeInclusive<f64> = 0.0..=1.0;
const MAX_IN_FLIGHT: RangeInclusive<u64> = 1..=100_000;
/// Late sends beyond this share of a step: mcpstorm could not keep up.
const LATE_SHARE: f64 = 0.05;
/// The share of the asked rate the server must answer within a step.
const ACHIEVED_SHARE: f64 = 0.9;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub start_rate: f64,
    pub max_rate: f64,
    pub step_s: f64,
    pub refine: u64,
    pub p99_ms: f64,
    pub success_rate: f64,
    pub max_in_flight: u64,
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    let capacity = Capacity {
        start_rate: keys.number("start_rate", RATE)?.unwrap_or(10.0),
        max_rate: keys.number("max_rate", RATE)?.unwrap_or(10_000.0),
        step_s: keys.number("step_s", STEP_S)?.unwrap_or(10.0),
        refine: keys.whole("refine", REFINE)?.unwrap_or(4),
        p99_ms: keys
            .number("p99_ms", P99_MS)?
            .ok_or_else(|| keys.missing("p99_ms", "the objective: p99 within this many ms"))?,
        success_rate: keys.number("success_rate", SUCCESS)?.unwrap_or(0.999),
        max_in_flight: keys
            .whole("max_in_flight", MAX_IN_FLIGHT)?
            .unwrap_or(10_000),
    };
    if capacity.max_rate < capacity.start_rate {
        return Err(keys.error("max_rate", "max_rate is below start_rate"));
    }
    Ok(Arc::new(capacity))
}

/// A service-level objective given on the command line (`--slo "p99 <
/// 100ms"`, `--slo "success_rate >= 0.999"`): what of a capacity search's
/// objective it replaces.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Objective {
    pub p99_ms: Option<f64>,
    pub success_rate: Option<f64>,
}

impl Objective {
    /// Read one `--slo`: `p99 < 100ms` (or `<=`, `ms` optional, `s` for
    /// seconds), `success_rate >= 0.999` (or `success >= 99.9%`).
    pub fn parse(text: &str) -> Result<Objective, String> {
        let shape = || {
            format!(
                "--slo {text:?}: write \"p99 < 100ms\" or \"success_rate >= 0.999\" (one a flag)"
            )
        };
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let number = |value: &str, unit_ms: bool| -> Option<f64> {
            let (digits, scale) = if !unit_ms {
                match value.strip_suffix('%') {
                    Some(d) => (d, 0.01),
                    None => (value, 1.0),
                }
            } else if let Some(d) = value.strip_suffix("ms") {
                (d, 1.0)
            } else if let Some(d) = value.strip_suffix('s') {
                (d, 1000.0)
            } else {
                (value, 1.0)
            };
            digits
                .parse::<f64>()
                .ok()
                .map(|n| n * scale)
                .filter(|n| n.is_finite())
        };
        if let Some(bound) = compact
            .strip_prefix("p99<=")
            .or_else(|| compact.strip_prefix("p99<"))
        {
            let ms = number(bound, true)
                .filter(|ms| P99_MS.contains(ms))
                .ok_or_else(shape)?;
            return Ok(Objective {
                p99_ms: Some(ms),
                ..Objective::default()
            });
        }
        let floor = ["success_rate>=", "success>=", "success_rate>", "success>"]
            .iter()
            .find_map(|prefix| compact.strip_prefix(prefix));
        if let Some(floor) = floor {
            let rate = number(floor, false)
                .filter(|r| SUCCESS.contains(r))
                .ok_or_else(shape)?;
            return Ok(Objective {
                success_rate: Some(rate),
                ..Objective::default()
            });
        }
        Err(shape())
    }

    /// This objective with `other`'s parts laid over it.
    pub fn and(self, other: Objective) -> Objective {
        Objective {
            p99_ms: other.p99_ms.or(self.p99_ms),
            success_rate: other.success_rate.or(self.success_rate),
        }
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "capacity search from {} to {} calls/s, {} s a step: p99 ≤ {} ms, success ≥ {} %",
            self.start_rate,
            self.max_rate,
            self.step_s,
            self.p99_ms,
            self.success_rate * 100.0
        )
    }
}

impl LoadModel for Capacity {
    fn follows_the_dial(&self) -> bool {
        false
    }

    fn with_objective(&self, objective: &Objective) -> Option<Arc<dyn LoadModel>> {
        Some(Arc::new(Capacity {
            p99_ms: objective.p99_ms.unwrap_or(self.p99_ms),
            success_rate: objective.success_rate.unwrap_or(self.success_rate),
            ..*self
        }))
    }

    fn planned_calls(&self) -> Option<u64> {
        None
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        let capacity = *self;
        async move {
            let runner = phase.sampling_runner()?;
            let _ = tokio::spawn(search(runner, capacity)).await;
            Ok(())
        }
        .boxed()
    }
}

/// What ended a step's run: the step ran, or the run was stopped.
enum Ran {
    Step(CapacityStep),
    Stopped,
}

async fn search(runner: PhaseRunner, capacity: Capacity) {
    let mut steps: Vec<CapacityStep> = Vec::new();
    let mut met: Option<f64> = None;
    let mut broke: Option<(f64, String)> = None;
    let mut generator_limit = None;
    let mut rate = capacity.start_rate;
    let mut bisections = 0;
    loop {
        let step = match run_step(&runner, &capacity, rate).await {
            Ran::Step(step) => step,
            Ran::Stopped => break,
        };
        runner.note(format!("capacity step {}", step_words(&step)));
        let late = step.late_sends as f64 > LATE_SHARE * step.calls.max(1) as f64;
        let failed = step.broke_on.clone();
        steps.push(step);
        if late {
            generator_limit = Some(rate);
            break;
        }
        match failed {
            None => met = Some(met.map_or(rate, |m: f64| m.max(rate))),
            Some(why) => {
                if broke.as_ref().is_none_or(|(b, _)| rate < *b) {
                    broke = Some((rate, why));
                }
            }
        }
        // Double while the objective holds; then bisect between the last
        // rate that met it and the lowest that broke it.
        rate = match (&met, &broke) {
            (_, None) if rate >= capacity.max_rate => break,
            (_, None) => (rate * 2.0).min(capacity.max_rate),
            (None, Some(_)) => break, // the first rate already broke it
            (Some(low), Some((high, _))) => {
                if bisections >= capacity.refine {
                    break;
                }
                bisections += 1;
                (low + high) / 2.0
            }
        };
    }
    let result = CapacityResult {
        objective: format!(
            "p99 ≤ {} ms, success ≥ {} %, at least {} % of the rate answered",
            capacity.p99_ms,
            capacity.success_rate * 100.0,
            ACHIEVED_SHARE * 100.0
        ),
        highest_met_per_s: met,
        broke_at_per_s: broke.as_ref().map(|(rate, _)| *rate),
        broke_on: broke.map(|(_, why)| why),
        generator_limit_per_s: generator_limit,
        steps,
    };
    runner.note(result_words(&result));
    let _ = runner.events.send(Event::Capacity {
        phase: runner.phase_index,
        result,
    });
}

/// One step: `rate` calls a second for `step_s`, every call awaited, judged.
/// A step's schedule: one call every 1/rate seconds for `step_s`; a pause
/// spoils it (it is run again once resumed).
struct Step {
    due: Instant,
    every: Duration,
    end: Instant,
    spoiled: bool,
}

impl Schedule for Step {
    fn next(&mut self, _: &PhaseRunner) -> Option<(Instant, Duration)> {
        (!self.spoiled && self.due < self.end).then_some((self.due, self.every))
    }

    fn sent(&mut self) {
        self.due += self.every;
    }

    fn resumed(&mut self, _paused_at: Instant, _resumed: Instant) {
        self.spoiled = true;
    }
}

async fn run_step(runner: &PhaseRunner, capacity: &Capacity, rate: f64) -> Ran {
    let length = Duration::from_secs_f64(capacity.step_s);
    let _ = runner.events.send(Event::StepRate {
        phase: runner.phase_index,
        at: Instant::now(),
        per_second: rate,
    });
    let (counted, mut results) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let mut step = Step {
        due: start,
        every: Duration::from_secs_f64(1.0 / rate),
        end: start + length,
        spoiled: false,
    };
    let answered = move |result| {
        let _ = counted.send((result, Instant::now()));
    };
    let Sent {
        sent,
        late,
        stopped,
    } = send_on_schedule(runner, Some(capacity.max_in_flight), &mut step, answered).await;
    if stopped {
        return Ran::Stopped;
    }
    if step.spoiled {
        return Box::pin(run_step(runner, capacity, rate)).await;
    }
    let mut latency = LatencyHistogram::default();
    let (mut calls, mut ok, mut answered_in_step) = (0u64, 0u64, 0u64);
    while let Some((result, ended)) = results.recv().await {
        let Some(call) = result else { continue };
        calls += 1;
        ok += u64::from(call.outcome == Outcome::Ok);
        latency.record(call.latency_us);
        answered_in_step += u64::from(ended <= start + length);
    }
    let [p50_ms, p99_ms] = if calls > 0 {
        latency.quantiles_ms([0.5, 0.99])
    } else {
        [0.0; 2]
    };
    let success_rate = if calls > 0 {
        ok as f64 / calls as f64
    } else {
        0.0
    };
    let achieved_per_s = answered_in_step as f64 / capacity.step_s;
    let broke_on = if calls == 0 {
        Some("no call was answered".to_string())
    } else if success_rate < capacity.success_rate {
        Some(format!(
            "errors: {:.2} % succeeded, below {} %",
            success_rate * 100.0,
            capacity.success_rate * 100.0
        ))
    } else if p99_ms > capacity.p99_ms {
        Some(format!(
            "latency: p99 {p99_ms:.1} ms, above {} ms",
            capacity.p99_ms
        ))
    } else if achieved_per_s < ACHIEVED_SHARE * rate {
        Some(format!(
            "throughput: {achieved_per_s:.0} calls/s answered of {rate:.0} asked"
        ))
    } else {
        None
    };
    Ran::Step(CapacityStep {
        rate_per_s: rate,
        calls: sent,
        achieved_per_s,
        p50_ms,
        p99_ms,
        success_rate,
        late_sends: late,
        broke_on,
    })
}

fn step_words(step: &CapacityStep) -> String {
    format!(
        "{:.0} calls/s: {:.0} answered a second, p50 {:.1} ms, p99 {:.1} ms, {:.2} % ok{}: {}",
        step.rate_per_s,
        step.achieved_per_s,
        step.p50_ms,
        step.p99_ms,
        step.success_rate * 100.0,
        if step.late_sends > 0 {
            format!(", {} sends late", step.late_sends)
        } else {
            String::new()
        },
        step.broke_on.as_deref().unwrap_or("met the objective")
    )
}

fn result_words(result: &CapacityResult) -> String {
    let met = result.highest_met_per_s.map_or_else(
        || "no rate tried met the objective".to_string(),
        |rate| format!("{rate:.0} calls/s met the objective ({})", result.objective),
    );
    let broke = match (result.broke_at_per_s, &result.broke_on) {
        (Some(rate), Some(why)) => format!("; {rate:.0} calls/s broke it on {why}"),
        _ => "; no rate tried broke it".to_string(),
    };
    let limit = result.generator_limit_per_s.map_or_else(String::new, |rate| {
        format!(
            "; the search stopped at {rate:.0} calls/s: mcpstorm sent late (its limit, not the server's)"
        )
    });
    format!("capacity: {met}{broke}{limit}")
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse_error, parsed};

    #[test]
    fn an_objective_reads_as_people_write_it() {
        use super::Objective;
        let p99 = |text| Objective::parse(text).map(|o| o.p99_ms);
        assert_eq!(p99("p99 < 100ms"), Ok(Some(100.0)));
        assert_eq!(p99("p99<=0.25s"), Ok(Some(250.0)));
        assert_eq!(p99("p99 < 40"), Ok(Some(40.0)));
        let success = |text| Objective::parse(text).map(|o| o.success_rate);
        assert_eq!(success("success_rate >= 0.999"), Ok(Some(0.999)));
        assert_eq!(success("success >= 99.5%"), Ok(Some(0.995)));
        for bad in [
            "p95 < 10ms",
            "p99 > 10ms",
            "p99 < NaNms",
            "success >= 150%",
            "",
        ] {
            let e = Objective::parse(bad).unwrap_err();
            assert!(e.contains("p99 < 100ms"), "{bad}: {e}");
        }
        let both = Objective::parse("p99 < 5ms")
            .unwrap()
            .and(Objective::parse("success >= 99%").unwrap());
        assert_eq!((both.p99_ms, both.success_rate), (Some(5.0), Some(0.99)));
    }

    #[test]
    fn a_search_is_read_with_its_objective() {
        let model = parsed(r#"kind = "capacity", p99_ms = 20, step_s = 2"#);
        assert_eq!(
            model.to_string(),
            "capacity search from 10 to 10000 calls/s, 2 s a step: p99 ≤ 20 ms, success ≥ 99.9 %"
        );
        let e = parse_error(r#"kind = "capacity""#);
        assert!(e.contains("needs `p99_ms`"), "{e}");
        let e = parse_error(r#"kind = "capacity", p99_ms = 5, start_rate = 50, max_rate = 10"#);
        assert!(e.contains("max_rate is below start_rate"), "{e}");
    }
}
