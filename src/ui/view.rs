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

    /// A table the arrow keys scroll.
    pub fn scrolls(self) -> bool {
        matches!(self, Pane::PerLabel | Pane::Processes)
    }

    pub fn next(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + 1) % Pane::ALL.len()]
    }

    pub fn previous(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// The order of the Per tool pane's rows (`s` moves to the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// As the scenario lists them.
    #[default]
    Listed,
    Calls,
    Errors,
    P95,
    Max,
    /// Memory kept per call, once attributed.
    Kept,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Listed => SortBy::Calls,
            SortBy::Calls => SortBy::Errors,
            SortBy::Errors => SortBy::P95,
            SortBy::P95 => SortBy::Max,
            SortBy::Max => SortBy::Kept,
            SortBy::Kept => SortBy::Listed,
        }
    }

    /// The column it sorts by, as its header names it.
    pub fn column(self) -> Option<&'static str> {
        match self {
            SortBy::Listed => None,
            SortBy::Calls => Some("calls"),
            SortBy::Errors => Some("err %"),
            SortBy::P95 => Some("p95"),
            SortBy::Max => Some("max"),
            SortBy::Kept => Some("KB/call"),
        }
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
    /// The Per tool pane's order.
    pub sort: SortBy,
    /// Rows the focused table (Per tool, Process tree) is scrolled down by;
    /// drawing keeps it within the table.
    pub scroll: usize,
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
            sort: SortBy::Listed,
            scroll: 0,
            monochrome: false,
        }
    }
}

pub struct View<'a> {
    pub snapshot: &'a Arc<Snapshot>,
    pub status: &'a RunStatus,
    pub state: &'a ViewState,
    /// A passing word for the person (where `w` saved the screen), shown
    /// in place of the key hint.
    pub notice: Option<&'a str>,
}
