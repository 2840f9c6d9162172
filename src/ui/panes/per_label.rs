//! The Per tool pane: each tool's (or method's) calls, errors, latency and,
//! once attributed, what it keeps per call; sorted as the person chooses,
//! scrolled when longer than the pane.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Cell, Row, Table};

use super::columns_that_fit;
use super::title::{Part, fit};
use crate::report::summary::ms;
use crate::stats::attribution::{DESCRIPTORS, MEMORY};
use crate::stats::{LabelPerCall, LabelStats, LatencySummary, Snapshot};
use crate::ui::view::SortBy;

pub fn per_label(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    s: &Snapshot,
    sort: SortBy,
    scroll: usize,
) {
    // Once memory is attributed to the tools, its column takes p99's place
    // (the summary and the report keep p99).
    let retained = &s.resources.retained_by_label;
    // Descriptors per call get a column of their own once some tool surely
    // keeps them (rare, and then the question).
    let fds = &s.resources.fds_by_label;
    let fds_kept = fds.iter().any(|f| f.low > KEEPS_FDS);
    // A figure not resolved yet is wider: its half-interval follows it.
    let unresolved = retained.iter().chain(fds.iter()).any(|r| !r.resolved);
    let figure_width = if unresolved { 10 } else { 7 };
    // The columns, most wanted first; those the pane has no room for (the
    // name keeps at least NAME_COLUMNS) are left out, never squeezed.
    // What a tool keeps, once known, is what the pane is looked at for.
    let mut columns = vec![Column::Calls, Column::ErrorShare];
    if fds_kept {
        columns.push(Column::Fds(figure_width.max(8)));
    }
    if !retained.is_empty() {
        columns.push(Column::Kept(figure_width));
    }
    columns.push(Column::P95);
    if retained.is_empty() {
        columns.push(Column::P99);
    }
    columns.extend([Column::P50, Column::Max]);
    let inner = usize::from(area.width.saturating_sub(2));
    let columns = columns_that_fit(columns, |c| c.width(), NAME_COLUMNS, inner);
    let used = NAME_COLUMNS
        + columns
            .iter()
            .map(|c| usize::from(c.width()) + 1)
            .sum::<usize>();
    let name_width = inner.saturating_sub(used - NAME_COLUMNS).max(1);
    let mut header = vec![Cell::from("tool / method")];
    header.extend(columns.iter().map(|c| Cell::from(c.header())));
    let sorted_by = sort.column();
    let header = header.into_iter().enumerate().map(|(i, cell)| {
        // The column sorted by is underlined.
        let sorting = i > 0 && columns.get(i - 1).map(|c| c.header()) == sorted_by;
        if sorting {
            cell.style(Style::default().add_modifier(Modifier::UNDERLINED))
        } else {
            cell
        }
    });
    let header = Row::new(header).style(Style::default().add_modifier(Modifier::BOLD));
    // While the memory's floor is not known (a heap's first rise), no tool
    // is marked by it.
    let memory_settling = s.resources.rss_trend.is_some_and(|t| t.settling.is_some());
    let keeps = keeping_most(retained, KEEPS_KB).filter(|_| !memory_settling);
    let keeps_fds = keeping_most(fds, KEEPS_FDS);
    let labels = sorted(s, sort);
    // Scrolled, never past the last row.
    let rows_shown = usize::from(area.height.saturating_sub(3));
    let first = scroll.min(labels.len().saturating_sub(rows_shown));
    let rows = labels.iter().skip(first).take(rows_shown).map(|l| {
        let errors = l.stats.outcomes.errors();
        let marked = [keeps, keeps_fds]
            .iter()
            .any(|k| k.is_some_and(|k| k == l.label));
        let name = if marked {
            format!("▲ {}", l.label)
        } else {
            l.label.clone()
        };
        let mut cells = vec![Cell::from(shortened_in_the_middle(&name, name_width))];
        cells.extend(columns.iter().map(|column| column.cell(l, retained, fds)));
        Row::new(cells).style(if marked {
            Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD)
        } else if errors > 0 {
            Style::default().fg(Color::Red)
        } else {
            Style::default()
        })
    });
    let mut widths = vec![Constraint::Fill(1)];
    widths.extend(columns.iter().map(|c| Constraint::Length(c.width())));
    let mut title = vec![Part::plain("Per tool / method (ms)").or("Per tool (ms)")];
    // More tools than rows: which are shown, and how to reach the others.
    let count = labels.len();
    if count > rows_shown && rows_shown > 0 {
        let last = (first + rows_shown).min(count);
        title.push(
            Part::plain(format!("{}–{last} of {count}: ↑↓ scroll", first + 1))
                .or(format!("{}–{last} of {count}", first + 1)),
        );
    }
    if let Some(column) = sorted_by {
        title.push(Part::plain(format!("by {column}")));
    }
    if memory_settling && !retained.is_empty() {
        title.push(Part::plain("KB/call settling"));
    } else if unresolved {
        title.push(Part::plain("± not resolved yet"));
    }
    let title = fit(&title, inner);
    let table = Table::new(rows, widths)
        .header(header)
        .block(block.title(title));
    frame.render_widget(table, area);
}

/// The labels in the order asked for: as listed, or by a column, the
/// largest first (a tool without the figure last).
fn sorted(s: &Snapshot, sort: SortBy) -> Vec<&LabelStats> {
    let mut labels: Vec<&LabelStats> = s.per_label.iter().collect();
    let kept = |l: &LabelStats| {
        s.resources
            .retained_by_label
            .iter()
            .find(|r| r.label == l.label)
            .map(|r| r.per_call)
    };
    let latency =
        |l: &LabelStats, pick: fn(&LatencySummary) -> f64| l.stats.latency.as_ref().map(pick);
    let key = |l: &LabelStats| -> Option<f64> {
        match sort {
            SortBy::Listed => None,
            SortBy::Calls => Some(l.stats.calls as f64),
            SortBy::Errors => Some(error_rate(l.stats.outcomes.errors(), l.stats.calls)),
            SortBy::P95 => latency(l, |s| s.p95_ms),
            SortBy::Max => latency(l, |s| s.max_ms),
            SortBy::Kept => kept(l),
        }
    };
    if sort != SortBy::Listed {
        // Stable: equal figures keep the listed order.
        labels.sort_by(|a, b| match (key(a), key(b)) {
            (Some(a), Some(b)) => b.total_cmp(&a),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    labels
}

fn error_rate(errors: u64, calls: u64) -> f64 {
    if calls == 0 {
        0.0
    } else {
        errors as f64 / calls as f64
    }
}

/// The least a tool's name keeps of the Per tool pane.
const NAME_COLUMNS: usize = 12;

/// A column of the Per tool pane.
#[derive(Debug, Clone, Copy)]
enum Column {
    Calls,
    ErrorShare,
    P50,
    P95,
    P99,
    Max,
    /// Memory kept per call, this wide.
    Kept(u16),
    /// Descriptors kept per call, this wide.
    Fds(u16),
}

impl Column {
    fn header(self) -> &'static str {
        match self {
            Column::Calls => "calls",
            Column::ErrorShare => "err %",
            Column::P50 => "p50",
            Column::P95 => "p95",
            Column::P99 => "p99",
            Column::Max => "max",
            Column::Kept(_) => "KB/call",
            Column::Fds(_) => "FDs/call",
        }
    }

    fn width(self) -> u16 {
        match self {
            Column::Calls => 7,
            Column::ErrorShare | Column::P50 | Column::P95 | Column::P99 | Column::Max => 6,
            Column::Kept(width) | Column::Fds(width) => width,
        }
    }

    fn cell(
        self,
        l: &LabelStats,
        retained: &[LabelPerCall],
        fds: &[LabelPerCall],
    ) -> Cell<'static> {
        let latency = |pick: fn(&LatencySummary) -> f64| {
            Cell::from(l.stats.latency.as_ref().map_or("-".into(), |s| ms(pick(s))))
        };
        let figure = |figures: &[LabelPerCall], decimals| {
            figures
                .iter()
                .find(|r| r.label == l.label)
                .map_or(Cell::from("-"), |r| figure_cell(r, decimals))
        };
        match self {
            Column::Calls => Cell::from(l.stats.calls.to_string()),
            Column::ErrorShare => Cell::from(error_share(l.stats.outcomes.errors(), l.stats.calls)),
            Column::P50 => latency(|s| s.p50_ms),
            Column::P95 => latency(|s| s.p95_ms),
            Column::P99 => latency(|s| s.p99_ms),
            Column::Max => latency(|s| s.max_ms),
            Column::Kept(_) => figure(retained, MEMORY.decimals),
            Column::Fds(_) => figure(fds, DESCRIPTORS.decimals),
        }
    }
}

/// Errors as a share of calls, in per cent: two decimals below 1 %, one
/// above; "0" for none.
fn error_share(errors: u64, calls: u64) -> String {
    if errors == 0 || calls == 0 {
        return "0".to_string();
    }
    let share = error_rate(errors, calls) * 100.0;
    if share < 1.0 {
        format!("{share:.2}")
    } else {
        format!("{share:.1}")
    }
}

/// `text` in at most `width` columns, its middle replaced by "…" when it is
/// longer (`get-res…-links`): the start and the end of a name tell tools
/// apart more often than its middle.
fn shortened_in_the_middle(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text.to_string();
    }
    if width <= 1 {
        return "…".chars().take(width).collect();
    }
    let kept = width - 1;
    let head = kept.div_ceil(2);
    let tail = kept - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// A tool's figure per call: resolved, the figure; not yet, the figure and
/// its 95 % half-interval, greyed (neither named nor cleared by it).
fn figure_cell(r: &LabelPerCall, decimals: usize) -> Cell<'static> {
    if r.resolved {
        return Cell::from(format!("{:+.decimals$}", r.per_call));
    }
    let half = (r.high - r.low) / 2.0;
    Cell::from(format!("{:+.decimals$}±{half:.decimals$}", r.per_call))
        .style(Style::default().fg(Color::DarkGray))
}

/// The tool that keeps the most of a resource per call, when it surely
/// keeps some: its figure resolved, its whole 95 % interval above
/// `at_least` a call.
fn keeping_most(kept: &[LabelPerCall], at_least: f64) -> Option<&str> {
    kept.iter()
        .filter(|r| r.resolved && r.low > at_least)
        .max_by(|a, b| a.per_call.total_cmp(&b.per_call))
        .map(|r| r.label.as_str())
}

/// What a tool must surely keep per call to be marked: the attribution's
/// resolution (the summary asks which tool from the same figure).
const KEEPS_KB: f64 = MEMORY.resolution;
const KEEPS_FDS: f64 = DESCRIPTORS.resolution;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shortened_in_the_middle_and_errors_given_as_a_share() {
        assert_eq!(
            shortened_in_the_middle("get-resource-links", 14),
            "get-res…-links"
        );
        assert_eq!(shortened_in_the_middle("echo", 14), "echo");
        assert_eq!(shortened_in_the_middle("abcdef", 5), "ab…ef");
        assert_eq!(shortened_in_the_middle("abcdef", 1), "…");
        assert_eq!(shortened_in_the_middle("abcdef", 0), "");
        assert_eq!(error_share(0, 10), "0");
        assert_eq!(error_share(1, 201), "0.50");
        assert_eq!(error_share(3, 79), "3.8");
    }
}
