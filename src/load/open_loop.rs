//! The open model's sending loop, which `rate`, `ramping_rate` and each
//! step of `capacity` share:
//! calls sent at their due times from a [`Schedule`], whatever the server is
//! doing, each a task of its own (latency counted from its due time), with
//! no cap on calls in flight unless `max_in_flight` sets one (then a due
//! call waits for one to end, in mcpstorm rather than in a slow server's
//! input). The loop runs on a runtime worker with a [`Pacer`], so at a
//! moderate rate a call costs two wake-ups, its due time and its answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::Counted;
use crate::engine::PhaseRunner;
use crate::pacer::Pacer;

/// A send this late is late (as the phase's `late_sends` count it).
pub(super) const LATE: Duration = Duration::from_millis(2);

/// What a schedule's sending came to.
pub(super) struct Sent {
    pub sent: u64,
    /// Calls sent more than 2 ms after their due time.
    pub late: u64,
    /// The schedule did not run to its end: the run was halted, or the
    /// timer failed.
    pub stopped: bool,
}

/// When the open model's calls are due.
pub(super) trait Schedule: Send {
    /// The next call's due time and the interval the timer may keep after
    /// it; `None` when the schedule is done.
    fn next(&mut self, runner: &PhaseRunner) -> Option<(Instant, Duration)>;
    /// The call `next` gave was sent, `lag` after its due time.
    fn sent(&mut self, lag: Duration);
    /// The run was paused and has resumed at `resumed`.
    fn resumed(&mut self, paused_at: Instant, resumed: Instant);
}

/// Send the schedule's calls until it is done or the run is halted, then
/// wait for every call in flight; `answered` is given each call's count as
/// it ends (a capacity search judges its steps on them).
pub(super) async fn send_on_schedule(
    runner: &PhaseRunner,
    max_in_flight: Option<u64>,
    schedule: &mut impl Schedule,
    answered: impl Fn(Option<Counted>) + Clone + Send + Sync + 'static,
) -> Sent {
    let mut outcome = Sent {
        sent: 0,
        late: 0,
        stopped: false,
    };
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
            outcome.stopped = true;
            return outcome;
        }
    };
    // Every call holds a clone of `in_flight`; the receiver sees the
    // channel close when the last one is done. Nothing is ever sent, so
    // no call wakes this task but the last.
    let (in_flight, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    while let Some((due, every)) = schedule.next(runner) {
        tokio::select! {
            biased;
            _ = runner.halt.wait() => { outcome.stopped = true; break }
            _ = runner.control.wait_paused() => {
                let paused_at = Instant::now();
                tokio::select! {
                    _ = runner.halt.wait() => { outcome.stopped = true; break }
                    _ = runner.control.wait_unpaused() => {}
                }
                schedule.resumed(paused_at, Instant::now());
                continue;
            }
            slept = pacer.sleep_until(due, every) => if let Err(error) = slept {
                runner.note(format!("the open model's timer failed: {error}"));
                outcome.stopped = true;
                break;
            }
        }
        let lag = Instant::now().saturating_duration_since(due);
        outcome.late += u64::from(lag > LATE);
        // Capped: wait for a call to end; the call is still due when it
        // was, so the wait shows in its latency and as a late send.
        let permit = match &cap {
            Some(cap) => tokio::select! {
                biased;
                _ = runner.halt.wait() => { outcome.stopped = true; break }
                permit = cap.clone().acquire_owned() => permit.ok(),
            },
            None => None,
        };
        let caller = runner.clone();
        let done = in_flight.clone();
        let answered = answered.clone();
        // Boxed: the call's future is large, and tokio would otherwise
        // copy it whole into the task and again through its stages.
        tokio::spawn(Box::pin(async move {
            answered(caller.call(0, Some(due)).await);
            drop((done, permit));
        }));
        outcome.sent += 1;
        schedule.sent(lag);
    }
    drop(in_flight);
    let _ = all_done.recv().await;
    outcome
}
