//! One call of a phase, made and counted: what every load model's workers
//! do (the models, in `crate::load`, decide when and how many at once).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::control::{CancelToken, LoadControl};
use super::crash::LiveSession;
use crate::client::Session;
use crate::protocol::Outcome;
use crate::protocol::jsonrpc::{Params, ResponseBody};
use crate::protocol::outcome::{Classified, tool_text};
use crate::scenario::template::{CallContext, Rendered};
use crate::scenario::{CallTemplate, Phase};
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

/// One call as it was counted.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    pub outcome: Outcome,
    /// From its due time (an open model's) or its send.
    pub latency_us: u64,
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
    /// Returns what was counted (none for a call abandoned or not sent), for
    /// a model that judges its own steps (capacity).
    pub async fn call(&self, worker: u64, scheduled: Option<Instant>) -> Option<Counted> {
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
            return None;
        };
        if let Err(RequestError::LocalLimit(why)) = reply {
            // mcpstorm's own limit, not the server's failure: counted apart.
            let _ = self.events.send(Event::NotSent {
                phase: self.phase_index,
                why,
            });
            return None;
        }
        let ended = match &reply {
            Ok(reply) => reply.received_at,
            Err(_) => Instant::now(),
        };
        let started = scheduled.unwrap_or(sent_at);
        let mut classified = crate::client::classify(&reply, template.is_tool_call());
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
        let counted = Counted {
            outcome: classified.outcome,
            latency_us: micros(ended.saturating_duration_since(started)),
        };
        let _ = self.events.send(Event::Call(CallEvent {
            phase: self.phase_index,
            label: template.label,
            outcome: classified.outcome,
            latency_us: counted.latency_us,
            send_lag_us: scheduled.map_or(0, |s| micros(sent_at.saturating_duration_since(s))),
            mixup,
            message: classified.message,
        }));
        if let Some(kick) = &self.probe_kick
            && seq.is_multiple_of(kick.every)
        {
            kick.notify.notify_one();
        }
        Some(counted)
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

    /// A note for the run's log.
    pub fn note(&self, text: String) {
        let _ = self.events.send(Event::Note(text));
    }
}

/// Send one call of a template; when it went out, and what came back.
pub(crate) async fn send(
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
