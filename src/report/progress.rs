//! The progress line output: a line on stderr about once a second while a
//! scenario runs, for headless runs (a CI log, a terminal without the
//! dashboard).

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::summary::{ms, percent};
use super::{LiveFeed, Output, OutputError};
use crate::acceptance::CriterionState;
use crate::stats::Snapshot;

pub struct ProgressLine;

impl Output for ProgressLine {
    fn follow(&mut self, feed: &LiveFeed) -> Result<Option<super::Following>, OutputError> {
        let (snapshots, over) = (feed.snapshots.clone(), feed.over.clone());
        Ok(Some(tokio::spawn(async move {
            over.unless(print_lines(snapshots)).await;
            Ok(())
        })))
    }
}

/// A line at most once a second, while a scenario is running.
async fn print_lines(mut snapshots: watch::Receiver<Arc<Snapshot>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let snapshot = snapshots.borrow_and_update().clone();
        if !snapshot.scenario.is_empty() && !snapshot.finished {
            eprintln!("{}", progress_line(&snapshot));
        }
    }
}

/// One line, for stderr about once a second.
pub fn progress_line(s: &Snapshot) -> String {
    let mut line = format!("[{}] {:.0}s", s.scenario, s.elapsed_s);
    if let Some(phase) = s.current_phase.and_then(|i| s.phases.get(i)) {
        let _ = write!(line, " {} {}", phase.name, phase.stats.calls);
        if let Some(planned) = phase.planned_calls {
            let _ = write!(line, "/{planned}");
        }
    }
    if let Some(window) = s.windows.last() {
        let _ = write!(
            line,
            " · {:.0} calls/s · p95 {} ms",
            window.calls_per_s,
            ms(window.p95_ms)
        );
    }
    let _ = write!(line, " · ok {}", percent(s.total.success_rate));
    let r = &s.resources;
    if let (Some(rss), Some(fds)) = (r.rss_current_mb, r.fds_current) {
        let _ = write!(line, " · RSS {rss:.1} MB");
        if let Some(growth) = r.rss_growth_mb {
            let _ = write!(line, " ({growth:+.1})");
        }
        let _ = write!(line, " · FDs {fds}");
    }
    let count = |state| s.criteria.iter().filter(|c| c.state == state).count();
    let _ = write!(
        line,
        " · criteria {} passing, {} failing, {} pending",
        count(CriterionState::Passing),
        count(CriterionState::Failing),
        count(CriterionState::Pending)
    );
    let settling = count(CriterionState::Settling);
    if settling > 0 {
        let _ = write!(line, ", {settling} settling");
    }
    let unmeasured = count(CriterionState::NotMeasured);
    if unmeasured > 0 {
        let _ = write!(line, ", {unmeasured} not measured");
    }
    line
}
