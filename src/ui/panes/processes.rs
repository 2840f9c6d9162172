//! The Process tree pane: each process of the server's tree, its memory and
//! how much it grew, descriptors, threads, CPU; enlarged, each one's
//! command line too (secrets redacted by the probe).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};

use super::columns_that_fit;
use super::title::{Part, fit};
use crate::stats::{Snapshot, TreeMember};

pub fn processes(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    s: &Snapshot,
    scroll: usize,
    enlarged: bool,
) {
    let members = &s.resources.members;
    // A command line takes a row of its own under its process.
    let rows_per_member = if enlarged { 2 } else { 1 };
    let shown = usize::from(area.height.saturating_sub(3)) / rows_per_member;
    let first = scroll.min(members.len().saturating_sub(shown));
    let mut title = vec![
        Part::plain(format!("Process tree ({})", members.len()))
            .or(format!("Tree ({})", members.len())),
    ];
    if members.len() > shown && shown > 0 {
        let last = (first + shown).min(members.len());
        title.push(
            Part::plain(format!("{}–{last}: ↑↓ scroll", first + 1))
                .or(format!("{}–{last}", first + 1)),
        );
    }
    let block = block.title(fit(&title, usize::from(area.width.saturating_sub(2))));
    if members.is_empty() {
        let why = s
            .resources
            .unmeasured
            .as_deref()
            .unwrap_or("no server process sampled");
        let text = Line::styled(why, Style::default().fg(Color::DarkGray));
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    // The columns, most wanted first; those without room (the name keeps
    // NAME_COLUMNS) are left out, never squeezed.
    let inner = usize::from(area.width.saturating_sub(2));
    let columns = columns_that_fit(COLUMNS, |c| c.width, NAME_COLUMNS, inner);
    let mut header = vec!["pid name"];
    header.extend(columns.iter().map(|c| c.header));
    let header = Row::new(header).style(Style::default().add_modifier(Modifier::BOLD));
    let rows = members.iter().skip(first).take(shown).map(|m| {
        let indent = "  ".repeat(m.depth.min(MAX_INDENT) as usize);
        let mut name = format!("{indent}{} {}", m.pid, m.name);
        if enlarged {
            // The command line on the row's second line, under the name.
            let command = m.command.as_deref().unwrap_or("(no command line)");
            name.push_str(&format!("\n{indent}  {command}"));
        }
        let mut cells = vec![name];
        cells.extend(columns.iter().map(|c| (c.value)(m)));
        Row::new(cells).height(rows_per_member as u16)
    });
    let mut widths = vec![Constraint::Fill(1)];
    widths.extend(columns.iter().map(|c| Constraint::Length(c.width)));
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

/// The least a process's pid and name keep of the pane.
const NAME_COLUMNS: usize = 12;

/// A column of the Process tree pane.
struct Column {
    header: &'static str,
    width: u16,
    value: fn(&TreeMember) -> String,
}

/// Most wanted first: memory and how it grew, then descriptors, CPU,
/// threads, and the process's share of the tree's memory.
const COLUMNS: &[Column] = &[
    Column {
        header: "RSS MB",
        width: 6,
        value: |m| format!("{:.1}", m.rss_mb),
    },
    Column {
        header: "+MB",
        width: 6,
        value: growth,
    },
    Column {
        header: "FDs",
        width: 4,
        value: |m| m.fds.to_string(),
    },
    Column {
        header: "CPU%",
        width: 4,
        value: |m| format!("{:.0}", m.cpu_percent),
    },
    Column {
        header: "thr",
        width: 3,
        value: |m| m.threads.to_string(),
    },
    Column {
        header: "%",
        width: 3,
        value: |m| format!("{:.0}", m.rss_share * 100.0),
    },
];

/// Indentation stops this deep: a hostile tree cannot push names off the pane.
const MAX_INDENT: u32 = 8;

/// How much its RSS grew since the baseline (or since it appeared), MB.
fn growth(m: &TreeMember) -> String {
    m.rss_growth_mb
        .map_or("-".to_string(), |g| format!("{g:+.1}"))
}
