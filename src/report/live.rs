//! What an output that shows the run as it goes (the dashboard, the
//! progress line) follows: the aggregator's snapshots, the runner's status,
//! and the commands it may send back (pause, the load dial, quit).

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::Verdict;
use crate::engine::CancelToken;
use crate::stats::Snapshot;

/// Handed to each output's `follow` when the run begins.
#[derive(Clone)]
pub struct LiveFeed {
    /// The newest snapshot of the scenario running.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Which scenario runs, which are done, the pause and the dial.
    pub status: watch::Receiver<RunStatus>,
    /// What the person asks of the run (the dashboard's keys).
    pub commands: mpsc::UnboundedSender<RunCommand>,
    /// Set when the run is being stopped (quit, a signal).
    pub halt: CancelToken,
    /// Set when the run is over: live outputs stop following.
    pub over: CancelToken,
}

/// What a live output may ask of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunCommand {
    Quit,
    TogglePause,
    Raise,
    Lower,
    /// Run the scenarios again from the first, on a fresh server.
    Restart,
}

/// A scenario already finished in this session, for the header's tally.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub name: String,
    pub verdict: Verdict,
    /// Why it did not pass (`ScenarioResult::reasons`), for the final view.
    pub reasons: Vec<String>,
}

/// The run as the runner sees it (published on a watch channel).
#[derive(Debug, Clone, Default)]
pub struct RunStatus {
    /// Position of the scenario being shown, from 0, and how many there are.
    pub scenario_index: usize,
    pub scenario_count: usize,
    /// The scenario's own words on what it does, shown as it starts.
    pub description: String,
    pub target: String,
    pub transport: String,
    pub paused: bool,
    /// The load dial (1.0 = as the scenario says).
    pub load_scale: f64,
    pub finished: Vec<Finished>,
    /// Every scenario is done (or the run was stopped): the final view.
    pub all_done: bool,
    /// Set when a scenario could not start, with the reason.
    pub setup_error: Option<String>,
}

impl RunStatus {
    pub fn overall(&self) -> Option<Verdict> {
        if !self.all_done {
            return None;
        }
        if self.setup_error.is_some() {
            return Some(Verdict::Error);
        }
        Some(
            if !self.finished.is_empty() && self.finished.iter().all(|f| f.verdict == Verdict::Pass)
            {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
        )
    }
}
