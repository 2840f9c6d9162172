//! One function per pane; each draws into the area it is given from the
//! snapshot alone.

mod capacity;
mod chart;
mod latency;
mod per_label;
mod processes;
mod resources;
pub mod result;
mod sessions;
mod text;
mod throughput;
mod title;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use super::view::{Pane, ViewState};
use crate::acceptance::CriterionState;
use crate::report::Verdict;
use crate::stats::Snapshot;

/// Draw `pane` into `area`, highlighted when it has the focus, as the view
/// choices have it: the focused table's order and offset; without colours
/// (NO_COLOR) the charts tag their lines, since colour cannot tell them apart.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    pane: Pane,
    focused: bool,
    snapshot: &Snapshot,
    state: &ViewState,
) {
    let monochrome = state.monochrome;
    // Only the focused table is scrolled.
    let scroll = if focused { state.scroll } else { 0 };
    let block = if focused {
        Block::bordered()
            .border_type(BorderType::Thick)
            .border_style(Style::default().fg(Color::Cyan))
    } else {
        Block::bordered().border_style(Style::default().fg(Color::DarkGray))
    }
    .title_style(Style::default().add_modifier(Modifier::BOLD));
    match pane {
        Pane::Latency => latency::latency(frame, area, block, snapshot, monochrome),
        Pane::Memory => resources::memory(frame, area, block, snapshot, monochrome),
        Pane::Fds => resources::fds(frame, area, block, snapshot, monochrome),
        Pane::Throughput => throughput::throughput(frame, area, block, snapshot, monochrome),
        Pane::Acceptance => text::acceptance(frame, area, block, snapshot),
        Pane::Outcomes => text::outcomes(frame, area, block, snapshot),
        Pane::PerLabel => per_label::per_label(frame, area, block, snapshot, state.sort, scroll),
        Pane::Processes => processes::processes(
            frame,
            area,
            block,
            snapshot,
            scroll,
            focused && state.zoomed,
        ),
        Pane::Stderr => text::stderr(frame, area, block, snapshot),
    }
}

/// A verdict as a badge: its word, black on its colour.
pub fn verdict_badge(verdict: Verdict) -> Span<'static> {
    let (word, color) = match verdict {
        Verdict::Pass => ("PASS", Color::Green),
        Verdict::Fail => ("FAIL", Color::Red),
        Verdict::Error => ("ERROR", Color::Red),
    };
    Span::styled(
        format!(" {word} "),
        Style::default()
            .fg(Color::Black)
            .bg(color)
            .add_modifier(Modifier::BOLD),
    )
}

/// Colour of a criterion state; the word itself is always printed too.
pub fn state_style(state: CriterionState) -> Style {
    let color = match state {
        CriterionState::Pending => Color::Yellow,
        CriterionState::Settling => Color::Cyan,
        CriterionState::NotMeasured => Color::DarkGray,
        CriterionState::Passing | CriterionState::Pass => Color::Green,
        CriterionState::Failing | CriterionState::Fail => Color::Red,
    };
    let style = Style::default().fg(color);
    if matches!(state, CriterionState::Pass | CriterionState::Fail) {
        style.add_modifier(Modifier::BOLD | Modifier::REVERSED)
    } else {
        style.add_modifier(Modifier::BOLD)
    }
}

/// The columns of a table that fit `inner` columns beside its first (which
/// keeps at least `first_keeps`), most wanted first: those without room
/// are left out whole, never squeezed (a squeezed cell cuts its digits).
pub fn columns_that_fit<T>(
    columns: impl IntoIterator<Item = T>,
    width: impl Fn(&T) -> u16,
    first_keeps: usize,
    inner: usize,
) -> Vec<T> {
    let mut used = first_keeps;
    columns
        .into_iter()
        .filter(|column| {
            // Each column after a space.
            let needed = usize::from(width(column)) + 1;
            let fits = used + needed <= inner;
            if fits {
                used += needed;
            }
            fits
        })
        .collect()
}

/// The rows `lines` take wrapped at `width` columns (at least one each).
pub fn wrapped_rows(lines: &[Line], width: u16) -> u16 {
    let width = width.max(1);
    lines
        .iter()
        .map(|l| {
            u16::try_from(l.width())
                .unwrap_or(u16::MAX)
                .div_ceil(width)
                .max(1)
        })
        .fold(0u16, u16::saturating_add)
}

/// A scenario's description as paragraphs: its lines joined (the file's
/// line breaks are its author's editor's, not the screen's), blank lines
/// between paragraphs kept as breaks.
pub fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// The metrics whose limits the charts draw: the memory chart's allowed
/// growth over the baseline, the descriptor chart's cap.
pub const RSS_GROWTH_LIMIT: &str = "rss_growth_mb";
pub const FD_LIMIT: &str = "fd_max";

/// The limit a criterion puts on `metric` (`fd_max < 256` gives 256), for
/// drawing it as a line.
pub fn criterion_threshold(snapshot: &Snapshot, metric: &str) -> Option<f64> {
    snapshot
        .criteria
        .iter()
        .find(|c| c.caps.as_deref() == Some(metric))?
        .threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_is_reflowed_into_its_paragraphs() {
        assert_eq!(
            paragraphs("One line\nbroken.\n\n  Two. \n"),
            ["One line broken.", "Two."]
        );
        assert!(paragraphs(" \n ").is_empty());
    }
    use crate::acceptance::metrics::METRICS;

    #[test]
    fn the_limits_drawn_are_metrics_a_criterion_can_name() {
        for drawn in [RSS_GROWTH_LIMIT, FD_LIMIT] {
            assert!(METRICS.iter().any(|m| m.name == drawn), "{drawn}");
        }
    }
}
