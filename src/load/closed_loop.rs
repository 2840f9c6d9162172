//! The closed model the sequential and concurrent kinds share: N workers,
//! each sending its next call as soon as the last one returns. Every worker
//! is its own task, so the generator uses every core and one slow call never
//! holds up another.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;

use crate::engine::PhaseRunner;
use crate::engine::control::ActiveClock;
use crate::scenario::Amount;

/// How often a closed loop looks at the load dial.
const DIAL_CHECK: Duration = Duration::from_millis(100);

/// How many workers a closed loop runs.
#[derive(Clone)]
pub(super) enum Workers {
    /// So many, whatever the dial says (a sequential phase's one).
    Fixed(u32),
    /// So many at the dial's 1.0: the dial adds workers or retires them
    /// between calls.
    Dialed(u32),
    /// As many as the schedule says at the phase's time (pauses left out):
    /// a ramp. Workers join or retire between calls as it moves.
    Scheduled(Arc<dyn Fn(Duration) -> u32 + Send + Sync>),
}

/// The workers wanted now, as the dial or the schedule stands.
fn workers_now(workers: &Workers, runner: &PhaseRunner, clock: &ActiveClock) -> u32 {
    match workers {
        Workers::Fixed(n) => *n,
        Workers::Dialed(n) => runner.control.scaled_workers(*n),
        Workers::Scheduled(at) => at(clock.elapsed(&runner.control)),
    }
}

/// Run the workers until the shared budget of calls (or the time) is used
/// up.
pub(super) async fn run(runner: &PhaseRunner, workers: Workers, amount: Amount) {
    let budget = Arc::new(AtomicU64::new(match amount {
        Amount::Calls(n) => n,
        Amount::Duration(_) => u64::MAX,
    }));
    let clock = Arc::new(ActiveClock::start(&runner.control));
    let active = Arc::new(AtomicU32::new(0));
    let mut next_worker = 0u64;
    let mut tasks = JoinSet::new();
    loop {
        let target = workers_now(&workers, runner, &clock);
        // Work is left while calls are (or time is): a worker that stopped
        // at the deadline must not be started again (it would stop at
        // once, and the loop would spin on it for ever).
        let time_left = match amount {
            Amount::Duration(d) => clock.elapsed(&runner.control) < d,
            Amount::Calls(_) => true,
        };
        let more_work = budget.load(Ordering::Relaxed) > 0 && time_left && !runner.halt.is_set();
        while more_work && active.load(Ordering::Relaxed) < target {
            active.fetch_add(1, Ordering::Relaxed);
            let worker = Worker {
                runner: runner.clone(),
                index: next_worker,
                workers: workers.clone(),
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
                // No worker left: the work is done, unless a schedule wants
                // none for now (a ramp through zero) and time is left.
                if finished.is_none() {
                    if !more_work || target > 0 {
                        break;
                    }
                    tokio::time::sleep(DIAL_CHECK).await;
                }
            }
            // Look at the dial now and then.
            _ = tokio::time::sleep(DIAL_CHECK) => {}
        }
    }
}

/// One closed-loop worker.
struct Worker {
    runner: PhaseRunner,
    index: u64,
    workers: Workers,
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
        let target = workers_now(&self.workers, &self.runner, &self.clock);
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
