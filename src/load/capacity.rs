//! `kind = "capacity"`: how much load the server takes before its objective
//! breaks. The open model at one rate after another, each held `step_s`:
//! the rate doubles from `start_rate` while the objective holds, then the
//! search bisects between the last rate that met it and the first that did
//! not, `refine` times. A step meets the objective when its calls' p99 (from
//! their due times) is within `p99_ms`, their success rate at least
//! `success_rate`, the server's RSS at its end within `max_rss_mb` (when
//! set), and the server answered at least 90 % of the rate asked. What the
//! step cost (`step_cost`) says whether the server's CPU was what broke.
//!
//! The generator must not be the limit: a step whose sends left more than
//! 2 ms late for over 5 % of its calls (and at least 5), or in which
//! mcpstorm's own CPU was saturated, stops the search, said as mcpstorm's
//! limit, not the server's.
//! Each step is said in the run's notes as it ends, and the result goes to
//! the report (`Event::Capacity`).

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::objective::{Objective, P99_MS, RSS_MB, SUCCESS};
use super::open_loop::{Schedule, Sent, send_on_schedule};
use super::step_cost::{CostMeter, generator_cpu_limit, server_cpu_limit};
use super::{LoadModel, ModelKind, Segment};
use crate::engine::monitor::Monitor;
use crate::engine::{EngineError, MeasuredProcess, PhaseContext, PhaseRunner};
use crate::protocol::Outcome;
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;
use crate::stats::{CapacityResult, CapacityStep, Event, LatencyHistogram, StepCost};

pub const MODEL: ModelKind = ModelKind {
    kind: "capacity",
    keys: &[
        "start_rate",
        "max_rate",
        "step_s",
        "refine",
        "p99_ms",
        "success_rate",
        "max_rss_mb",
        "max_in_flight",
    ],
    parse,
};

const RATE: RangeInclusive<f64> = 0.01..=100_000.0;
const STEP_S: RangeInclusive<f64> = 0.1..=3_600.0;
const REFINE: RangeInclusive<u64> = 0..=20;
const MAX_IN_FLIGHT: RangeInclusive<u64> = 1..=100_000;
/// Late sends beyond this share of a step: mcpstorm could not keep up.
const LATE_SHARE: f64 = 0.05;
/// ... and at least this many: one late send in a step of a few calls is a
/// scheduler's hiccup, not a generator that cannot keep up.
const LATE_AT_LEAST: u64 = 5;
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
    pub max_rss_mb: Option<f64>,
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
        max_rss_mb: keys.number("max_rss_mb", RSS_MB)?,
        max_in_flight: keys
            .whole("max_in_flight", MAX_IN_FLIGHT)?
            .unwrap_or(10_000),
    };
    if capacity.max_rate < capacity.start_rate {
        return Err(keys.error("max_rate", "max_rate is below start_rate"));
    }
    Ok(Arc::new(capacity))
}

impl Capacity {
    /// The objective each step is held to, in words.
    fn objective_words(&self) -> String {
        let memory = self
            .max_rss_mb
            .map_or_else(String::new, |mb| format!(", RSS ≤ {mb} MB"));
        format!(
            "p99 ≤ {} ms, success ≥ {} %{memory}",
            self.p99_ms,
            self.success_rate * 100.0
        )
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "capacity search from {} to {} calls/s, {} s a step: {}",
            self.start_rate,
            self.max_rate,
            self.step_s,
            self.objective_words()
        )
    }
}

impl LoadModel for Capacity {
    fn segment(&self, _segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        Err("a capacity search decides each step on all of its calls: split, each segment would search alone and none would find the server's capacity".into())
    }

    fn follows_the_dial(&self) -> bool {
        false
    }

    fn with_objective(&self, objective: &Objective) -> Option<Arc<dyn LoadModel>> {
        Some(Arc::new(Capacity {
            p99_ms: objective.p99_ms.unwrap_or(self.p99_ms),
            success_rate: objective.success_rate.unwrap_or(self.success_rate),
            max_rss_mb: objective.max_rss_mb.or(self.max_rss_mb),
            ..*self
        }))
    }

    fn planned_calls(&self) -> Option<u64> {
        None
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        let capacity = *self;
        let server = phase.monitor.map(Monitor::measured_process);
        async move {
            let runner = phase.sampling_runner()?;
            let _ = tokio::spawn(search(runner, capacity, server)).await;
            Ok(())
        }
        .boxed()
    }
}

/// What ended a step's run: the step ran, or the run was stopped.
enum Ran<T> {
    Step(T),
    Stopped,
}

/// What of the objective a step broke, as the report names it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Broke {
    Errors,
    Latency,
    Memory,
    Throughput,
}

impl Broke {
    fn name(self) -> &'static str {
        match self {
            Broke::Errors => "errors",
            Broke::Latency => "latency",
            Broke::Memory => "memory",
            Broke::Throughput => "throughput",
        }
    }
}

async fn search(runner: PhaseRunner, capacity: Capacity, server: Option<MeasuredProcess>) {
    if capacity.max_rss_mb.is_some() && server.as_ref().and_then(MeasuredProcess::pid).is_none() {
        runner.note(
            "capacity: the objective's RSS bound is not checked: there is no server process \
             to measure (give a URL's server with --pid)"
                .to_string(),
        );
    }
    // The result so far, sent after every step: the dashboard shows the
    // search as it goes, and a run stopped in the middle keeps its steps.
    let mut result = CapacityResult {
        objective: format!(
            "{}, at least {} % of the rate answered",
            capacity.objective_words(),
            ACHIEVED_SHARE * 100.0
        ),
        highest_met_per_s: None,
        broke_at_per_s: None,
        broke_first: None,
        broke_on: None,
        generator_limit_per_s: None,
        generator_limit_on: None,
        steps: Vec::new(),
    };
    let mut rate = capacity.start_rate;
    let mut bisections = 0;
    loop {
        let (step, failed) = match run_step(&runner, &capacity, server.as_ref(), rate).await {
            Ran::Step(step) => step,
            Ran::Stopped => break,
        };
        runner.note(format!("capacity step {}", step_words(&step)));
        let own_limit = generator_cpu_limit(&step.cost).or_else(|| {
            let late = step.late_sends;
            (late >= LATE_AT_LEAST && late as f64 > LATE_SHARE * step.calls.max(1) as f64).then(
                || {
                    format!(
                        "{} of {} sends left over 2 ms late",
                        step.late_sends, step.calls
                    )
                },
            )
        });
        let server_cpu = server_cpu_limit(&step.cost);
        result.steps.push(step);
        if let Some(why) = own_limit {
            result.generator_limit_per_s = Some(rate);
            result.generator_limit_on = Some(why);
            break;
        }
        match failed {
            None => {
                result.highest_met_per_s =
                    Some(result.highest_met_per_s.map_or(rate, |m| m.max(rate)))
            }
            Some((kind, symptom)) if result.broke_at_per_s.is_none_or(|lowest| rate < lowest) => {
                result.broke_at_per_s = Some(rate);
                let (first, why) = match server_cpu {
                    Some(cpu) => ("server_cpu", format!("{symptom}; the limit: {cpu}")),
                    None => (kind.name(), symptom),
                };
                result.broke_first = Some(first.to_string());
                result.broke_on = Some(why);
            }
            Some(_) => {}
        }
        let _ = runner.events.send(Event::Capacity {
            phase: runner.phase_index,
            result: result.clone(),
        });
        // Double while the objective holds; then bisect between the last
        // rate that met it and the lowest that broke it.
        rate = match (result.highest_met_per_s, result.broke_at_per_s) {
            (_, None) if rate >= capacity.max_rate => break,
            (_, None) => (rate * 2.0).min(capacity.max_rate),
            (None, Some(_)) => break, // the first rate already broke it
            (Some(low), Some(high)) => {
                if bisections >= capacity.refine {
                    break;
                }
                bisections += 1;
                (low + high) / 2.0
            }
        };
    }
    runner.note(format!("capacity: {}", result.in_words()));
    let _ = runner.events.send(Event::Capacity {
        phase: runner.phase_index,
        result,
    });
}

/// One step: `rate` calls a second for `step_s`, every call awaited, judged.
/// A step's schedule: one call every 1/rate seconds for `step_s`; a pause
/// spoils it (it is run again once resumed). Its cost is read when its
/// last call is due, before the calls still in flight end.
struct Step {
    due: Instant,
    every: Duration,
    end: Instant,
    spoiled: bool,
    meter: CostMeter,
    cost: Option<StepCost>,
}

impl Schedule for Step {
    fn next(&mut self, _: &PhaseRunner) -> Option<(Instant, Duration)> {
        if !self.spoiled && self.due < self.end {
            return Some((self.due, self.every));
        }
        if self.cost.is_none() {
            self.cost = Some(self.meter.read());
        }
        None
    }

    fn sent(&mut self, _lag: Duration) {
        self.due += self.every;
    }

    fn resumed(&mut self, _paused_at: Instant, _resumed: Instant) {
        self.spoiled = true;
    }
}

async fn run_step(
    runner: &PhaseRunner,
    capacity: &Capacity,
    server: Option<&MeasuredProcess>,
    rate: f64,
) -> Ran<(CapacityStep, Option<(Broke, String)>)> {
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
        meter: CostMeter::start(server),
        cost: None,
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
        return Box::pin(run_step(runner, capacity, server, rate)).await;
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
    let cost = step.cost.unwrap_or_else(|| step.meter.read());
    let mut step = CapacityStep {
        rate_per_s: rate,
        calls: sent,
        achieved_per_s: answered_in_step as f64 / capacity.step_s,
        p50_ms,
        p99_ms,
        success_rate,
        late_sends: late,
        broke_on: None,
        cost,
    };
    let failed = judge(capacity, &step, calls);
    step.broke_on = failed.as_ref().map(|(_, why)| why.clone());
    Ran::Step((step, failed))
}

/// What of the objective a step broke, checked in order: errors, latency,
/// memory, throughput; `None`: it met the objective.
fn judge(capacity: &Capacity, step: &CapacityStep, answered: u64) -> Option<(Broke, String)> {
    if answered == 0 {
        return Some((Broke::Errors, "errors: no call was answered".to_string()));
    }
    if step.success_rate < capacity.success_rate {
        return Some((
            Broke::Errors,
            format!(
                "errors: {:.2} % succeeded, below {} %",
                step.success_rate * 100.0,
                capacity.success_rate * 100.0
            ),
        ));
    }
    if step.p99_ms > capacity.p99_ms {
        return Some((
            Broke::Latency,
            format!(
                "latency: p99 {:.1} ms, above {} ms",
                step.p99_ms, capacity.p99_ms
            ),
        ));
    }
    if let (Some(bound), Some(rss)) = (capacity.max_rss_mb, step.cost.server_rss_mb)
        && rss > bound
    {
        return Some((
            Broke::Memory,
            format!("memory: the server's RSS {rss:.1} MB at the step's end, above {bound} MB"),
        ));
    }
    let rate = step.rate_per_s;
    (step.achieved_per_s < ACHIEVED_SHARE * rate).then(|| {
        (
            Broke::Throughput,
            format!(
                "throughput: {:.0} calls/s answered of {rate:.0} asked",
                step.achieved_per_s
            ),
        )
    })
}

fn step_words(step: &CapacityStep) -> String {
    let server_cpu = step
        .cost
        .server_cpu
        .as_ref()
        .map_or_else(String::new, |cpu| {
            format!(", server CPU {:.0} %", cpu.cores_used * 100.0)
        });
    format!(
        "{:.0} calls/s: {:.0} answered a second, p50 {:.1} ms, p99 {:.1} ms, {:.2} % ok{server_cpu}{}: {}",
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

#[cfg(test)]
mod tests {
    use super::super::tests::{parse_error, parsed};

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
