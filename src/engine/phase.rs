//! What the engine hands a phase's load model: everything it runs with.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::control::{CancelToken, LoadControl};
use super::monitor::Monitor;
use super::runner::PhaseRunner;
use super::{EngineError, RunOptions};
use crate::scenario::Phase;
use crate::stats::Event;

pub struct PhaseContext<'a> {
    /// The phase's place in the scenario (events name it by index).
    pub index: usize,
    pub phase: &'a Phase,
    pub options: &'a RunOptions,
    /// How long a call is waited for.
    pub timeout: Duration,
    /// The scenario's labels (events name theirs by index).
    pub labels: &'a [String],
    pub events: &'a UnboundedSender<Event>,
    /// Stops new calls: the person's word, a crash, the abort rule.
    pub halt: &'a CancelToken,
    /// The live load dial and pause.
    pub control: &'a LoadControl,
    /// Samples the server's process tree (none over HTTP without a pid).
    pub monitor: Option<&'a Monitor>,
    /// Calls on the run's session; `None` when no phase uses one.
    pub(super) runner: Option<PhaseRunner>,
}

impl PhaseContext<'_> {
    /// Makes the phase's calls on the run's session; the probe keeps its
    /// own pace (a model that samples at moments of its own uses this).
    pub fn runner(&self) -> Result<PhaseRunner, EngineError> {
        self.runner
            .clone()
            .ok_or(EngineError::NoSession(self.phase.load.to_string()))
    }

    /// Makes the phase's calls on the run's session, and asks the probe for
    /// a sample every so many of the calls planned, so that a phase faster
    /// than the probe's interval still has its samples.
    pub fn sampling_runner(&self) -> Result<PhaseRunner, EngineError> {
        let mut runner = self.runner()?;
        runner.probe_kick = self
            .monitor
            .and_then(|m| m.kick_every(self.phase.load.planned_calls()));
        Ok(runner)
    }

    /// Whether the preflight has checked this phase against the server's
    /// tools: it runs on the run's session, when there is one.
    pub fn checked(&self) -> bool {
        self.runner.is_some()
    }

    /// The index of a label of the scenario's.
    pub fn label(&self, label: &str) -> usize {
        self.labels.iter().position(|l| l == label).unwrap_or(0)
    }
}
