//! The probe's driver: samples the server's process tree on a timer, on call
//! progress, and on demand (at phase boundaries), and follows the server to
//! its new process when it is restarted after a crash.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::load::ProbeKick;
use crate::probe::TreeSampler;
use crate::stats::Event;

/// Samples per phase, at least, when the phase's call count is known: a fast
/// server can finish a phase between two timer samples, and its RSS trend
/// needs points spread over the calls, not over the clock.
const SAMPLES_PER_PHASE: u64 = 100;
/// The closest two samples may be, so call-driven sampling stays cheap.
const MIN_SAMPLE_SPACING: Duration = Duration::from_millis(1);

pub struct Monitor {
    /// `None` once the final sample is taken: nothing is sampled after it.
    sampler: Arc<Mutex<Option<TreeSampler>>>,
    events: mpsc::UnboundedSender<Event>,
    kick: Arc<tokio::sync::Notify>,
    interval: Duration,
    task: Mutex<JoinHandle<()>>,
}

impl Monitor {
    pub fn start(pid: u32, interval: Duration, events: mpsc::UnboundedSender<Event>) -> Monitor {
        let sampler = Arc::new(Mutex::new(Some(TreeSampler::new(pid))));
        let kick = Arc::new(tokio::sync::Notify::new());
        let task = sampling(sampler.clone(), events.clone(), kick.clone(), interval);
        Monitor {
            sampler,
            events,
            kick,
            interval,
            task: Mutex::new(task),
        }
    }

    /// Follow the server to a new process (a restart after a crash). The
    /// sampling loop ended when the old process went away: start it again.
    pub fn retarget(&self, pid: u32) {
        if let Ok(mut slot) = self.sampler.lock() {
            *slot = Some(TreeSampler::new(pid));
        }
        if let Ok(mut task) = self.task.lock() {
            task.abort();
            *task = sampling(
                self.sampler.clone(),
                self.events.clone(),
                self.kick.clone(),
                self.interval,
            );
        }
    }

    /// What a phase's workers use to ask for a sample every `every` calls.
    pub fn kick_every(&self, planned_calls: Option<u64>) -> Option<ProbeKick> {
        Some(ProbeKick {
            notify: self.kick.clone(),
            every: (planned_calls? / SAMPLES_PER_PHASE).max(1),
        })
    }

    pub fn sample_now(&self) {
        sample_into(&self.sampler, &self.events, false);
    }

    /// Take the last sample, before the server is stopped. A timer sample
    /// still under way cannot come after it: a process that is exiting reads
    /// as having freed its memory, and would stand as the final figure.
    pub fn finish(&self) {
        sample_into(&self.sampler, &self.events, true);
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Ok(task) = self.task.lock() {
            task.abort();
        }
    }
}

/// The sampling loop: on every tick or kick, until the process is gone.
fn sampling(
    sampler: Arc<Mutex<Option<TreeSampler>>>,
    events: mpsc::UnboundedSender<Event>,
    kick: Arc<tokio::sync::Notify>,
    interval: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = kick.notified() => {}
            }
            let since = last.elapsed();
            if since < MIN_SAMPLE_SPACING {
                tokio::time::sleep(MIN_SAMPLE_SPACING - since).await;
            }
            last = Instant::now();
            if !sample_into(&sampler, &events, false) {
                break;
            }
        }
    })
}

/// Take one sample; false once the process is gone.
fn sample_into(
    sampler: &Mutex<Option<TreeSampler>>,
    events: &mpsc::UnboundedSender<Event>,
    last: bool,
) -> bool {
    // Sent under the lock: samples reach the aggregator in the order they were
    // taken, so a timer sample cannot land after (and stand for) a later one.
    let Ok(mut slot) = sampler.lock() else {
        return false;
    };
    let Some(tree) = slot.as_mut() else {
        return false;
    };
    let sampled = match tree.sample() {
        Some((sample, members)) => {
            let _ = events.send(Event::Probe {
                at: Instant::now(),
                sample,
                members,
            });
            true
        }
        None => false,
    };
    if last {
        *slot = None;
    }
    sampled
}
