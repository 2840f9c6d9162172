//! The load models: how a phase's calls are sent. Every worker is its own task,
//! so the generator uses every core and one slow call never holds up another.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use super::control::{ActiveClock, CancelToken, LoadControl};
use super::crash::LiveSession;
use super::pacer::Pacer;
use crate::protocol::jsonrpc::{Params, ResponseBody};
use crate::protocol::outcome::{self, Classified, tool_text};
use crate::protocol::{Outcome, Session};
use crate::scenario::template::{CallContext, Rendered};
use crate::scenario::{Amount, CallTemplate, Load, Phase};
use crate::stats::{CallEvent, Event};
use crate::transport::{Reply, RequestError};

/// How long a call that failed on the transport waits for the server's exit
/// to show, when it has not yet (see `gone_after_transport_error`): the kernel
/// reports an exit within milliseconds, and a server that is alive pays this
/// once per transport error.
const EXIT_SETTLE: Duration = Duration::from_millis(100);

/// Everything a worker needs, cheap to clone into each task.
#[derive(Clone)]
pub struct PhaseRunner {
    /// The session calls go to (replaced after a crash with on_crash = "restart").
    pub live: LiveSession,
    pub phase_index: usize,
    pub phase: Arc<Phase>,
    /// Sequence numbers run across the whole scenario, from 1.
    pub seq: Arc<AtomicU64>,
    pub events: UnboundedSender<Event>,
    pub timeout: Duration,
    /// Stops new calls: set by the person (or a signal), or by a crash.
    pub halt: CancelToken,
    /// The person's (or a signal's) stop alone: calls in flight are abandoned
    /// rather than waited for.
    pub interrupt: CancelToken,
    /// Calls abandoned in flight by the interruption.
    pub abandoned: Arc<AtomicU64>,
    /// Calls in a row that got no answer, and how many end the run.
    pub no_answer_streak: Arc<AtomicU64>,
    pub abort_after: Option<u64>,
    pub control: LoadControl,
    pub probe_kick: Option<ProbeKick>,
}

/// Asks the probe for a sample every `every` calls.
#[derive(Clone)]
pub struct ProbeKick {
    pub notify: Arc<tokio::sync::Notify>,
    pub every: u64,
}

impl PhaseRunner {
    /// Make one call and report it. `scheduled` is the open model's intended
    /// send time: latency then counts from it, so a stall cannot hide.
    pub async fn call(&self, worker: u64, scheduled: Option<Instant>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if super::panics::injected_at_call() == Some(seq) {
            panic!("injected panic at call {seq} (MCPSTORM_INJECT_PANIC_AT_CALL)");
        }
        let template = self.phase.mix.pick();
        let ctx = CallContext { seq, worker };
        let session = self.live.current();
        let sending = send(&session, template, ctx, self.timeout);
        let Some((sent_at, reply)) = self.interrupt.unless(sending).await else {
            // It has no outcome to count: only how many there were is told.
            self.abandoned.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if let Err(RequestError::LocalLimit(why)) = reply {
            // mcpstorm's own limit, not the server's failure: counted apart.
            let _ = self.events.send(Event::NotSent {
                phase: self.phase_index,
                why,
            });
            return;
        }
        let ended = match &reply {
            Ok(reply) => reply.received_at,
            Err(_) => Instant::now(),
        };
        let started = scheduled.unwrap_or(sent_at);
        let mut classified = outcome::classify(&reply, template.is_tool_call());
        if classified.outcome == Outcome::TransportError
            && session
                .connection()
                .gone_after_transport_error(EXIT_SETTLE)
                .await
        {
            // The server is gone: stop sending rather than burn the budget on
            // errors — for good, or until it has been started again.
            if self.live.restarts() {
                self.live.replaced(&session, &self.halt).await;
            } else {
                self.halt.set();
            }
        }
        let mut mixup = false;
        if classified.outcome == Outcome::Ok
            && let (Some(expect), Ok(reply)) = (&template.expect_text, &reply)
            && let ResponseBody::Result(result) = &reply.body
        {
            let expected = expect.render(&ctx);
            let got = match result.value() {
                Ok(value) => tool_text(&value),
                // Not a mix-up: a result too deep to read.
                Err(why) => {
                    classified = Classified::failed(Outcome::ProtocolError, why.to_string());
                    String::new()
                }
            };
            // "Contains", not "equals": servers dress their answers ("Echo: …").
            if classified.outcome == Outcome::Ok
                && !expected.as_str().is_some_and(|e| got.contains(e))
            {
                // Another request's answer is a mix-up (a correlation
                // violation); content of another kind is only unexpected.
                mixup = expect.shape_matches(&got);
                let what = if mixup {
                    "mixed-up response"
                } else {
                    "unexpected content"
                };
                classified = Classified::failed_fmt(
                    Outcome::ProtocolError,
                    format_args!("{what}: expected {expected}, got {got:?}"),
                );
            }
        }
        self.count_answer(classified.outcome);
        let _ = self.events.send(Event::Call(CallEvent {
            phase: self.phase_index,
            label: template.label,
            outcome: classified.outcome,
            latency_us: micros(ended.saturating_duration_since(started)),
            send_lag_us: scheduled.map_or(0, |s| micros(sent_at.saturating_duration_since(s))),
            mixup,
            message: classified.message,
        }));
        if let Some(kick) = &self.probe_kick
            && seq.is_multiple_of(kick.every)
        {
            kick.notify.notify_one();
        }
    }

    /// A server that answers nothing is given up on: after `abort_after`
    /// calls in a row without an answer, the load stops, said once.
    fn count_answer(&self, outcome: Outcome) {
        if !matches!(outcome, Outcome::Timeout | Outcome::TransportError) {
            self.no_answer_streak.store(0, Ordering::Relaxed);
            return;
        }
        let streak = self.no_answer_streak.fetch_add(1, Ordering::Relaxed) + 1;
        if Some(streak) == self.abort_after {
            self.halt.set();
            let _ = self.events.send(Event::Aborted(format!(
                "{streak} calls in a row got no answer (timeouts or transport errors): \
                 the server was given up on (abort_after_consecutive_failures = {streak})"
            )));
        }
    }

    /// Run the phase's load model to its end (or until halted).
    pub async fn run(&self) {
        match self.phase.load {
            Load::Sequential { amount } => self.closed_loop(1, amount).await,
            Load::Concurrent { workers, amount } => self.closed_loop(workers, amount).await,
            Load::Batches { workers, batches } => self.batches(workers, batches).await,
            Load::Rate { per_second, amount } => self.open_loop(per_second, amount).await,
            Load::ColdStart { .. } | Load::Churn { .. } | Load::Robustness { .. } => {
                unreachable!("cold start, churn and robustness phases have runners of their own")
            }
        }
    }

    /// N workers, each sending its next call when the previous one returns,
    /// until the shared budget of calls (or the time) is used up. The dial
    /// adds workers or retires them between calls.
    async fn closed_loop(&self, workers: u32, amount: Amount) {
        let budget = Arc::new(AtomicU64::new(match amount {
            Amount::Calls(n) => n,
            Amount::Duration(_) => u64::MAX,
        }));
        let clock = Arc::new(ActiveClock::start(&self.control));
        let active = Arc::new(AtomicU32::new(0));
        let mut next_worker = 0u64;
        let mut tasks = JoinSet::new();
        loop {
            let target = self.control.scaled_workers(workers);
            // Work is left while calls are (or time is): a worker that stopped
            // at the deadline must not be started again (it would stop at
            // once, and the loop would spin on it for ever).
            let time_left = match amount {
                Amount::Duration(d) => clock.elapsed(&self.control) < d,
                Amount::Calls(_) => true,
            };
            let more_work = budget.load(Ordering::Relaxed) > 0 && time_left && !self.halt.is_set();
            while more_work && active.load(Ordering::Relaxed) < target {
                active.fetch_add(1, Ordering::Relaxed);
                let worker = Worker {
                    runner: self.clone(),
                    index: next_worker,
                    base_workers: workers,
                    budget: budget.clone(),
                    amount,
                    clock: clock.clone(),
                    active: active.clone(),
                };
                next_worker += 1;
                tasks.spawn(worker.run());
            }
            tokio::select! {
                finished = tasks.join_next() => {
                    if finished.is_none() {
                        break;
                    }
                }
                // Look at the dial now and then.
                _ = tokio::time::sleep(DIAL_CHECK) => {}
            }
        }
    }

    /// Batches of `workers` calls sent together; the next batch waits for all.
    async fn batches(&self, workers: u32, batches: u32) {
        for _ in 0..batches {
            self.control.wait_unpaused().await;
            if self.halt.is_set() {
                return;
            }
            let mut tasks = JoinSet::new();
            for worker in 0..self.control.scaled_workers(workers) as u64 {
                let runner = self.clone();
                tasks.spawn(async move { runner.call(worker, None).await });
            }
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Open model: calls are due one interval apart and sent then, whatever the
    /// server is doing, with no cap on calls in flight.
    ///
    /// The schedule is kept by a task of its own with a [`Pacer`]
    /// (microsecond-precise), on a runtime worker rather than on the thread
    /// that started the run, and each call is a task it spawns there. At a
    /// moderate rate a call then costs two wake-ups, its due time and its
    /// answer, and no hand-off between threads.
    async fn open_loop(&self, per_second: f64, amount: Amount) {
        let runner = self.clone();
        let _ = tokio::spawn(async move { runner.keep_schedule(per_second, amount).await }).await;
    }

    async fn keep_schedule(&self, per_second: f64, amount: Amount) {
        let mut pacer = match Pacer::new() {
            Ok(pacer) => pacer,
            Err(error) => {
                self.note(format!(
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
            let step = Duration::from_secs_f64(1.0 / (per_second * self.control.scale()));
            tokio::select! {
                biased;
                _ = self.halt.wait() => break,
                _ = self.control.wait_paused() => {
                    tokio::select! {
                        _ = self.halt.wait() => break,
                        _ = self.control.wait_unpaused() => {}
                    }
                    // Resume on a fresh schedule rather than fire the missed calls at once.
                    due = Instant::now();
                    continue;
                }
                slept = pacer.sleep_until(due, step) => if let Err(error) = slept {
                    self.note(format!("the open model's timer failed: {error}"));
                    break;
                }
            }
            let runner = self.clone();
            let done = in_flight.clone();
            // Boxed: the call's future is large, and tokio would otherwise
            // copy it whole into the task and again through its stages.
            tokio::spawn(Box::pin(async move {
                runner.call(0, Some(due)).await;
                drop(done);
            }));
            sent += 1;
            due += step;
            offset += step;
        }
        drop(in_flight);
        let _ = all_done.recv().await;
    }

    fn note(&self, text: String) {
        let _ = self.events.send(Event::Note(text));
    }
}

/// How often a closed loop looks at the load dial.
const DIAL_CHECK: Duration = Duration::from_millis(100);

/// One closed-loop worker.
struct Worker {
    runner: PhaseRunner,
    index: u64,
    base_workers: u32,
    budget: Arc<AtomicU64>,
    amount: Amount,
    clock: Arc<ActiveClock>,
    active: Arc<AtomicU32>,
}

impl Worker {
    async fn run(self) {
        let control = &self.runner.control;
        loop {
            control.wait_unpaused().await;
            if self.retire_if_surplus() {
                return; // already counted out
            }
            if self.runner.halt.is_set() {
                break;
            }
            if let Amount::Duration(d) = self.amount
                && self.clock.elapsed(control) >= d
            {
                break;
            }
            if !take_one(&self.budget) {
                break;
            }
            self.runner.call(self.index, None).await;
        }
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Leave when the dial asks for fewer workers than are running. Workers
    /// race to count themselves out; the exchange lets exactly one win per slot.
    fn retire_if_surplus(&self) -> bool {
        let target = self.runner.control.scaled_workers(self.base_workers);
        let active = self.active.load(Ordering::Relaxed);
        active > target
            && self
                .active
                .compare_exchange(active, active - 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

fn take_one(budget: &AtomicU64) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

/// Send one call of a template; when it went out, and what came back.
pub(super) async fn send(
    session: &Session,
    template: &CallTemplate,
    ctx: CallContext,
    timeout: Duration,
) -> (Instant, Result<Reply, RequestError>) {
    let params = template
        .params
        .as_ref()
        .map(|template| Rendered { template, ctx });
    let params = params.as_ref().map(|p| p as &dyn Params);
    session.call(&template.method, params, timeout).await
}

pub fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}
