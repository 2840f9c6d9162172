//! The probe's driver: samples the server's process tree on a timer, on call
//! progress, and on demand (at phase boundaries), and follows the server to
//! its new process when it is restarted after a crash.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::runner::ProbeKick;
use crate::probe::TreeSampler;
use crate::probe::sampler::Gone;
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
    /// `--measure-process`, kept for the server that replaces a crashed one.
    focus: Option<String>,
    /// Hidden in the command lines shown (`Target::secrets`).
    secrets: Arc<[String]>,
    events: mpsc::UnboundedSender<Event>,
    kick: Arc<tokio::sync::Notify>,
    interval: Duration,
    task: Mutex<JoinHandle<()>>,
}

/// The process the probe measures, for a load model that reads it at
/// moments of its own (a capacity search, at each step's start and end).
#[derive(Clone)]
pub struct MeasuredProcess(Arc<Mutex<Option<TreeSampler>>>);

impl MeasuredProcess {
    /// Its pid now (the restarted server's after a crash); `None` once the
    /// probe has stopped or before `--measure-process` finds its process.
    pub fn pid(&self) -> Option<u32> {
        self.0.lock().ok()?.as_ref()?.measured()
    }
}

impl Monitor {
    pub fn measured_process(&self) -> MeasuredProcess {
        MeasuredProcess(self.sampler.clone())
    }

    pub fn start(
        pid: u32,
        (focus, secrets): (Option<String>, Arc<[String]>),
        interval: Duration,
        events: mpsc::UnboundedSender<Event>,
    ) -> Monitor {
        let sampler = Arc::new(Mutex::new(Some(TreeSampler::focused(
            pid,
            focus.clone(),
            secrets.clone(),
        ))));
        let kick = Arc::new(tokio::sync::Notify::new());
        let task = sampling(sampler.clone(), events.clone(), kick.clone(), interval);
        Monitor {
            sampler,
            focus,
            secrets,
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
            *slot = Some(TreeSampler::focused(
                pid,
                self.focus.clone(),
                self.secrets.clone(),
            ));
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
        sample_into(&self.sampler, &self.events, Take::Exact);
    }

    /// Take the last sample, before the server is stopped. A timer sample
    /// still under way cannot come after it: a process that is exiting reads
    /// as having freed its memory, and would stand as the final figure.
    pub fn finish(&self) {
        let unfound = self.focus.as_ref().filter(|_| {
            self.sampler
                .lock()
                .is_ok_and(|slot| slot.as_ref().is_some_and(|s| s.measured().is_none()))
        });
        if let Some(focus) = unfound {
            let _ = self.events.send(Event::Note(format!(
                "--measure-process {focus:?}: no process of the server's tree had it in its \
                 command line, so nothing was measured"
            )));
        }
        sample_into(&self.sampler, &self.events, Take::Last);
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
            if !sample_into(&sampler, &events, Take::Routine) {
                break;
            }
        }
    })
}

/// Which sample is taken.
#[derive(Clone, Copy, PartialEq)]
enum Take {
    /// On the timer or call progress: PSS may be a reading of the last 200 ms.
    Routine,
    /// At a phase boundary: growth counts from here, every figure read now.
    Exact,
    /// The final one, exact; nothing is sampled after it.
    Last,
}

/// Take one sample; false once the process is gone.
fn sample_into(
    sampler: &Mutex<Option<TreeSampler>>,
    events: &mpsc::UnboundedSender<Event>,
    take: Take,
) -> bool {
    // Sent under the lock: samples reach the aggregator in the order they were
    // taken, so a timer sample cannot land after (and stand for) a later one.
    let Ok(mut slot) = sampler.lock() else {
        return false;
    };
    let Some(tree) = slot.as_mut() else {
        return false;
    };
    let reading = match take {
        Take::Routine => tree.sample(),
        Take::Exact | Take::Last => tree.sample_exact(),
    };
    let sampled = match reading {
        Ok(Some((sample, members))) => {
            let _ = events.send(Event::Probe {
                at: Instant::now(),
                sample,
                members,
            });
            true
        }
        // The process to measure has not appeared yet: sample again later.
        Ok(None) => true,
        Err(Gone) => false,
    };
    if take == Take::Last {
        *slot = None;
    }
    sampled
}
