//! What the dashboard draws: the newest snapshot plus the run's status and the
//! person's view choices. Drawing is a pure function of a `View`, which is what
//! lets the render tests feed it hand-built snapshots.

use std::sync::Arc;

use crate::report::RunStatus;
use crate::stats::Snapshot;

/// The panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Latency,
    Acceptance,
    Memory,
    Fds,
    Throughput,
    Outcomes,
    PerLabel,
    Processes,
    Stderr,
}

impl Pane {
    pub const ALL: [Pane; 9] = [
        Pane::Latency,
        Pane::Acceptance,
        Pane::Memory,
        Pane::Fds,
        Pane::Throughput,
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

/// View choices the person makes with keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewState {
    pub focus: Pane,
    pub zoomed: bool,
    pub help: bool,
    /// `r` was pressed once on the final view: a second runs everything
    /// again, any other key stays.
    pub confirm_rerun: bool,
    /// No colours (NO_COLOR is set): highlights are reversed text, and the
    /// charts tag their lines.
    pub monochrome: bool,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            focus: Pane::Latency,
            zoomed: false,
            help: false,
            confirm_rerun: false,
            monochrome: false,
        }
    }
}

pub struct View<'a> {
    pub snapshot: &'a Arc<Snapshot>,
    pub status: &'a RunStatus,
    pub state: &'a ViewState,
}
