//! What the dashboard draws: the newest snapshot plus the run's status and the
//! person's view choices. Drawing is a pure function of a `View`, which is what
//! lets the render tests feed it hand-built snapshots.

use std::sync::Arc;

use crate::report::Verdict;
use crate::stats::Snapshot;

/// The panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Latency,
    Acceptance,
    Memory,
    Fds,
    Outcomes,
    PerLabel,
    Processes,
    Stderr,
}

impl Pane {
    pub const ALL: [Pane; 8] = [
        Pane::Latency,
        Pane::Acceptance,
        Pane::Memory,
        Pane::Fds,
        Pane::Outcomes,
        Pane::PerLabel,
        Pane::Processes,
        Pane::Stderr,
    ];

    pub fn next(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + 1) % Pane::ALL.len()]
    }

    pub fn previous(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// A scenario already finished in this session, for the header's tally.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub name: String,
    pub verdict: Verdict,
}

/// The run as the runner sees it (published on a watch channel).
#[derive(Debug, Clone, Default)]
pub struct RunStatus {
    /// Position of the scenario being shown, from 0, and how many there are.
    pub scenario_index: usize,
    pub scenario_count: usize,
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

/// View choices the person makes with keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewState {
    pub focus: Pane,
    pub zoomed: bool,
    pub help: bool,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            focus: Pane::Latency,
            zoomed: false,
            help: false,
        }
    }
}

pub struct View<'a> {
    pub snapshot: &'a Arc<Snapshot>,
    pub status: &'a RunStatus,
    pub state: &'a ViewState,
}
