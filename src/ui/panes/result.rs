//! The final view's result panel: the verdict and why, the whole-run
//! figures of each phase of the scenario shown, its memory, and the
//! scenario's own words on what it does.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::report::summary::{ms, percent};
use crate::report::{RunStatus, Verdict};
use crate::stats::{CallStats, PhaseState, Snapshot};

/// Reasons listed at most; the rest are counted.
const REASONS_SHOWN: usize = 8;

/// The panel's lines, most important first (a short panel cuts the last).
pub fn lines(s: &Snapshot, status: &RunStatus) -> Vec<Line<'static>> {
    let mut lines = vec![verdict_line(status)];
    let reasons: Vec<(&str, &str)> = status
        .finished
        .iter()
        .filter(|f| f.verdict != Verdict::Pass)
        .flat_map(|f| f.reasons.iter().map(move |r| (f.name.as_str(), r.as_str())))
        .collect();
    for (scenario, reason) in reasons.iter().take(REASONS_SHOWN) {
        lines.push(Line::from(vec![
            Span::styled("✗ ", Style::default().fg(Color::Red)),
            Span::raw(format!("{scenario}: {reason}")),
        ]));
    }
    if reasons.len() > REASONS_SHOWN {
        lines.push(Line::raw(format!(
            "  and {} more: see the report",
            reasons.len() - REASONS_SHOWN
        )));
    }
    if !s.scenario.is_empty() {
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let title = format!("{} (ms)", s.scenario);
        let width = s
            .phases
            .iter()
            .map(|p| p.name.chars().count())
            .chain([title.chars().count()])
            .max()
            .unwrap_or(0);
        lines.push(Line::styled(format!("{title:<width$}{COLUMNS}"), bold));
        for phase in s.phases.iter().filter(|p| p.state != PhaseState::Pending) {
            let skipped = if phase.state == PhaseState::Skipped {
                "  (skipped)"
            } else {
                ""
            };
            lines.push(Line::raw(format!(
                "{:<width$}{}{skipped}",
                phase.name,
                columns(&phase.stats)
            )));
        }
        lines.push(Line::raw(memory_line(s)));
        for phase in s.phases.iter().filter(|p| p.state != PhaseState::Running) {
            if let Some(capacity) = &phase.capacity {
                lines.push(Line::raw(format!(
                    "capacity ({}): {}",
                    phase.name,
                    capacity.in_words()
                )));
            }
            if let Some(sessions) = &phase.sessions {
                lines.push(Line::raw(format!(
                    "sessions ({}): {}",
                    phase.name,
                    sessions.in_words()
                )));
            }
        }
    }
    for paragraph in super::paragraphs(&status.description) {
        lines.push(Line::styled(
            paragraph,
            Style::default().fg(Color::DarkGray),
        ));
    }
    lines
}

/// The phase table's columns: narrower than the summary's, to fit 80
/// columns.
const COLUMNS: &str = "   calls      ok     p50     p95     p99     max";

fn columns(stats: &CallStats) -> String {
    let mut out = format!("{:>8}{:>8}", stats.calls, percent(stats.success_rate));
    match &stats.latency {
        Some(l) => {
            for v in [l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms] {
                out.push_str(&format!("{:>8}", ms(v)));
            }
        }
        None => out.push_str(&format!("{:>8}", "-").repeat(4)),
    }
    out
}

fn verdict_line(status: &RunStatus) -> Line<'static> {
    let count = status.finished.len();
    let failed = status
        .finished
        .iter()
        .filter(|f| f.verdict != Verdict::Pass)
        .count();
    let tally = match (failed, count) {
        (_, 0) => "no scenario finished".to_string(),
        (0, 1) => "the scenario passed".to_string(),
        (0, n) => format!("all {n} scenarios passed"),
        (_, 1) => "the scenario did not pass".to_string(),
        (f, n) => format!("{f} of {n} scenario(s) did not pass"),
    };
    // The verdict's badge is on the header's line just above.
    let color = if failed == 0 && count > 0 {
        Color::Green
    } else {
        Color::Red
    };
    Line::styled(
        tally,
        Style::default().fg(color).add_modifier(Modifier::BOLD),
    )
}

/// The server's memory over the run in one line: growth to the floor, the
/// trend with its interval, or why there is none.
fn memory_line(s: &Snapshot) -> String {
    let r = &s.resources;
    if let Some(why) = &r.unmeasured {
        return format!("memory: {why}");
    }
    let Some(growth) = r.rss_growth_mb else {
        return "memory: not sampled".to_string();
    };
    let mut line = format!(
        "memory: RSS {:.1} MB, growth {growth:+.1} MB",
        r.rss_current_mb.unwrap_or(0.0)
    );
    match &r.rss_trend {
        Some(t) => {
            line.push_str(&format!(
                " · trend {:+.2} KB/call (95 % {:+.2} to {:+.2}, {} collection(s))",
                t.kb_per_call, t.kb_per_call_low, t.kb_per_call_high, t.collections
            ));
            if let Some(half) = t.later_half {
                line.push_str(&format!(", over the calls from {:.0} on", half.from_calls));
            }
            if let Some(settling) = t.settling {
                line.push_str(&format!(": not settled, {settling}"));
            }
        }
        None => line.push_str(" · trend: too few samples"),
    }
    line
}

/// The rows the panel needs at `width`, borders included.
pub fn height(s: &Snapshot, status: &RunStatus, width: u16) -> u16 {
    let rows = super::wrapped_rows(&lines(s, status), width.saturating_sub(2));
    rows.saturating_add(2)
}

/// Draw the panel into `area`.
pub fn result(frame: &mut Frame, area: Rect, s: &Snapshot, status: &RunStatus) {
    let block = Block::bordered()
        .border_style(Style::default().fg(Color::DarkGray))
        .title(" Result ");
    frame.render_widget(
        Paragraph::new(lines(s, status))
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
