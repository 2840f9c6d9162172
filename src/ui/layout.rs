//! Where everything goes: the header, the pane grid for the terminal's size,
//! the enlarged pane, the help overlay.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, Paragraph};

use super::panes;
use super::view::{Pane, View};
use crate::stats::PhaseState;

/// Below this size only the header and the acceptance list are shown.
const MIN_GRID: (u16, u16) = (60, 18);
/// From this size on every pane is on screen at once.
const FULL_GRID: (u16, u16) = (100, 36);
const HEADER_HEIGHT: u16 = 5;

pub const KEYS: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit (the report is still written)"),
    ("p", "pause / resume the load"),
    ("+ / -", "raise / lower the load (rate or workers)"),
    ("r", "restart the scenario with a fresh server"),
    ("Tab, Shift-Tab", "move the focus between panes"),
    ("Enter", "enlarge the focused pane (again: back)"),
    (
        "↑ ↓ PgUp PgDn",
        "scroll the focused table (Per tool, Process tree)",
    ),
    (
        "s",
        "sort the Per tool table (calls, err %, p95, max, KB/call)",
    ),
    (
        "w",
        "save the screen (text, colours, figures) to files here",
    ),
    ("?", "show / hide this help"),
];

/// Draw the whole dashboard.
pub fn draw(frame: &mut Frame, view: &View) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let [header, body] = Layout::vertical([
        Constraint::Length(HEADER_HEIGHT.min(area.height)),
        Constraint::Fill(1),
    ])
    .areas(area);
    draw_header(frame, header, view);
    let snapshot = view.snapshot.as_ref();
    let focus = view.state.focus;
    if view.state.zoomed {
        panes::draw(frame, body, focus, true, snapshot, view.state);
    } else {
        // The final view: the result on top, as tall as it needs (at most
        // half the screen), the panes below it.
        let body = if view.status.all_done {
            let wanted = panes::result::height(snapshot, view.status, body.width);
            let [result, rest] = Layout::vertical([
                Constraint::Length(wanted.min(body.height / 2)),
                Constraint::Fill(1),
            ])
            .areas(body);
            panes::result::result(frame, result, snapshot, view.status);
            rest
        } else {
            body
        };
        let screen = Rect {
            height: body.height + HEADER_HEIGHT,
            ..body
        };
        let panes = grid(body, screen, focus);
        let alone = panes.len() == 1;
        for (pane, rect) in panes {
            panes::draw(
                frame,
                rect,
                pane,
                alone || pane == focus,
                snapshot,
                view.state,
            );
        }
    }
    // Not over a pane the person enlarged to look at.
    if !view.status.all_done && !view.state.zoomed && snapshot.elapsed_s < DESCRIPTION_SHOWN_S {
        draw_description(frame, body, &view.status.description);
    }
    if view.state.help {
        draw_help(frame, area);
    }
    if view.state.monochrome {
        without_colours(frame.buffer_mut());
    }
}

/// NO_COLOR: every colour taken off. What a coloured background marked (a
/// verdict, the progress bar's done part) is reversed text instead; the
/// black behind the progress bar's rest is no mark.
fn without_colours(buffer: &mut ratatui::buffer::Buffer) {
    for cell in buffer.content.iter_mut() {
        if !matches!(cell.bg, Color::Reset | Color::Black) {
            cell.modifier.insert(Modifier::REVERSED);
        }
        cell.fg = Color::Reset;
        cell.bg = Color::Reset;
    }
}

/// The panes that fit, and where. A screen too small for every pane shows
/// the focused one in the place of the least wanted: Tab never moves the
/// focus to a pane that is not on screen.
fn grid(body: Rect, screen: Rect, focus: Pane) -> Vec<(Pane, Rect)> {
    if screen.width < MIN_GRID.0 || screen.height < MIN_GRID.1 {
        // Room for one: the acceptance list, or the pane Tab moved to (the
        // first focus, latency's, starts on the list here).
        let shown = if focus == Pane::Latency {
            Pane::Acceptance
        } else {
            focus
        };
        return vec![(shown, body)];
    }
    if screen.width >= FULL_GRID.0 && screen.height >= FULL_GRID.1 {
        let [top, middle, bottom] = Layout::vertical([
            Constraint::Percentage(38),
            Constraint::Percentage(32),
            Constraint::Fill(1),
        ])
        .areas(body);
        let [latency, acceptance] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Fill(1)]).areas(top);
        let [memory, fds, throughput, outcomes] = Layout::horizontal([
            Constraint::Percentage(34),
            Constraint::Percentage(15),
            Constraint::Percentage(17),
            Constraint::Fill(1),
        ])
        .areas(middle);
        let [per_label, processes, stderr] = Layout::horizontal([
            Constraint::Percentage(40),
            Constraint::Percentage(33),
            Constraint::Fill(1),
        ])
        .areas(bottom);
        return vec![
            (Pane::Latency, latency),
            (Pane::Acceptance, acceptance),
            (Pane::Memory, memory),
            (Pane::Fds, fds),
            (Pane::Throughput, throughput),
            (Pane::Outcomes, outcomes),
            (Pane::PerLabel, per_label),
            (Pane::Processes, processes),
            (Pane::Stderr, stderr),
        ];
    }
    // Reduced: the four panes that answer "is it holding up?"; the others are
    // a Tab and an Enter away.
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(body);
    let [latency, acceptance] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(top);
    let [memory, outcomes] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(bottom);
    let last = if [Pane::Latency, Pane::Acceptance, Pane::Memory].contains(&focus) {
        Pane::Outcomes
    } else {
        focus
    };
    vec![
        (Pane::Latency, latency),
        (Pane::Acceptance, acceptance),
        (Pane::Memory, memory),
        (last, outcomes),
    ]
}

fn draw_header(frame: &mut Frame, area: Rect, view: &View) {
    let s = view.snapshot.as_ref();
    let status = view.status;
    let block = Block::bordered()
        .border_style(Style::default().fg(Color::DarkGray))
        .title(Span::styled(
            " mcpstorm ",
            Style::default().add_modifier(Modifier::BOLD),
        ))
        .title_alignment(Alignment::Left);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let rows = Layout::vertical([Constraint::Length(1); 3]).split(inner);

    // Line 1: scenario, phase and its progress, elapsed time.
    let phase = s.current_phase.and_then(|i| s.phases.get(i));
    let scenario = if s.scenario.is_empty() {
        "starting…"
    } else {
        &s.scenario
    };
    let mut first = format!(
        "{scenario} ({}/{})",
        status.scenario_index + 1,
        status.scenario_count.max(1)
    );
    let wide = inner.width >= FULL_GRID.0;
    let mut progress = None;
    if let Some(phase) = phase {
        first.push_str(&format!(" · phase {}", phase.name));
        if wide {
            first.push_str(&format!(" · {}", phase.load));
        }
        let calls = phase.stats.calls;
        match phase.planned_calls {
            // Done, or past the plan (the dial raised the load; a robustness
            // phase skips the inputs its protocol era has no place for): the
            // calls made, never "282924/270000".
            Some(planned) if planned > 0 && phase.state != PhaseState::Done && calls <= planned => {
                progress = Some((calls as f64 / planned as f64, format!("{calls}/{planned}")));
            }
            Some(planned) if planned > 0 => {
                progress = Some((1.0, format!("{calls} calls")));
            }
            _ => first.push_str(&format!(" · {calls} calls")),
        }
    }
    first.push_str(&format!(" · {:.1} s", s.elapsed_s));
    let gauge_width = if wide { 24 } else { 16 };
    let [text, gauge] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(gauge_width)]).areas(rows[0]);
    frame.render_widget(Paragraph::new(first), text);
    if let Some((ratio, label)) = progress {
        frame.render_widget(
            Gauge::default()
                .ratio(ratio)
                .label(label)
                // Black, not grey, behind the figure: readable on light terminals too.
                .gauge_style(Style::default().fg(Color::Cyan).bg(Color::Black)),
            gauge,
        );
    }

    // Line 2: target, transport, protocol, throughput now and on average.
    if rows.len() > 1 {
        // Once the run is over, its last second is a fraction of one: the
        // average alone.
        let now = (!s.finished).then(|| s.windows.last().map_or(0.0, |w| w.calls_per_s));
        let protocol = s
            .server
            .as_ref()
            .map_or("-".to_string(), |i| i.protocol_version.clone());
        let mut spans = vec![Span::styled(
            match now {
                Some(now) => format!(
                    "{now:.0} calls/s now, {:.0} on average",
                    s.total.throughput_per_s
                ),
                None => format!("{:.0} calls/s on average", s.total.throughput_per_s),
            },
            Style::default().add_modifier(Modifier::BOLD),
        )];
        if (status.load_scale - 1.0).abs() > 1e-9 {
            // Said when the phase running does not follow the dial.
            let ignored = if phase.is_some_and(|p| !p.follows_the_dial) {
                " (not for this phase: one call at a time)"
            } else {
                ""
            };
            // An open model's rate as the dial made it.
            let target = phase
                .filter(|p| p.follows_the_dial)
                .and_then(|p| p.target_per_s)
                .map_or(String::new(), |rate| {
                    format!(" (target {:.0} calls/s)", rate * status.load_scale)
                });
            spans.push(Span::styled(
                format!(" · load ×{:.2}{target}{ignored}", status.load_scale),
                Style::default().fg(Color::Cyan),
            ));
        }
        if status.paused {
            spans.push(Span::styled(
                " · PAUSED",
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ));
        }
        let at = s
            .endpoint
            .as_ref()
            .map(|url| format!(" at {url}"))
            .unwrap_or_default();
        spans.push(Span::raw(format!(
            " · {}{at} · protocol {protocol} · {}",
            status.transport, status.target
        )));
        frame.render_widget(Paragraph::new(Line::from(spans)), rows[1]);
    }

    // Line 3: the verdicts so far, or the final verdict, and the key hint;
    // or the question `r` asked on the final view.
    if let (true, Some(notice)) = (rows.len() > 2, view.notice) {
        let said = Line::styled(
            notice.to_string(),
            Style::default()
                .fg(Color::Green)
                .add_modifier(Modifier::BOLD),
        );
        frame.render_widget(Paragraph::new(said), rows[2]);
    } else if rows.len() > 2 && view.state.confirm_rerun {
        let question = Line::styled(
            "r again: run everything again (this run's report stays as written) · any other key: stay",
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        );
        frame.render_widget(Paragraph::new(question), rows[2]);
    } else if rows.len() > 2 {
        let mut spans = Vec::new();
        if let Some(overall) = status.overall() {
            spans.push(Span::styled(
                "RESULT ",
                Style::default().add_modifier(Modifier::BOLD),
            ));
            spans.push(panes::verdict_badge(overall));
            if let Some(error) = &status.setup_error {
                spans.push(Span::styled(
                    format!(" {error}"),
                    Style::default().fg(Color::Red),
                ));
            }
            spans.push(Span::raw("  "));
        }
        for finished in &status.finished {
            spans.push(Span::raw(format!("{} ", finished.name)));
            spans.push(panes::verdict_badge(finished.verdict));
            spans.push(Span::raw(" "));
        }
        let hint = if status.all_done {
            " q quit · r run again · ? keys"
        } else {
            " q quit · p pause · +/- load · Tab/Enter panes · ? keys"
        };
        spans.push(Span::styled(hint, Style::default().fg(Color::DarkGray)));
        frame.render_widget(Paragraph::new(Line::from(spans)), rows[2]);
    }
}

/// How long a scenario's description stays on screen once it starts.
const DESCRIPTION_SHOWN_S: f64 = 8.0;
/// Rows of a description shown at most.
const DESCRIPTION_ROWS: u16 = 6;

/// The scenario's own words on what it does, over the bottom of the panes
/// for its first seconds (its criteria are pending then anyway).
fn draw_description(frame: &mut Frame, body: Rect, description: &str) {
    let text: Vec<Line> = panes::paragraphs(description)
        .into_iter()
        .map(Line::raw)
        .collect();
    if text.is_empty() || body.height < 8 {
        return;
    }
    let rows = panes::wrapped_rows(&text, body.width.saturating_sub(2));
    let height = (rows.min(DESCRIPTION_ROWS) + 2).min(body.height / 2);
    let area = Rect {
        y: body.bottom() - height,
        height,
        ..body
    };
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(
                Block::bordered()
                    .border_style(Style::default().fg(Color::Cyan))
                    .title(" About this scenario "),
            ),
        area,
    );
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let width = 58.min(area.width);
    let height = (KEYS.len() as u16 + 4).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{key:<16}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "press ? or Esc to close",
        Style::default().fg(Color::DarkGray),
    ));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
        popup,
    );
}
