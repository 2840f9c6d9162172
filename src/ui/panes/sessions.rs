//! Sessions as users as they go, under the acceptance list: the sessions
//! open and held so far, then a row a window — its end, the sessions open,
//! its p99 and success, met or what broke.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::text::wrap_words;
use crate::stats::{PhaseState, SessionsResult, SessionsWindow, Snapshot};

/// The phase to show: the running one's, else the last one run.
fn shown(s: &Snapshot) -> Option<(&SessionsResult, bool)> {
    s.phases
        .iter()
        .rev()
        .find_map(|p| Some((p.sessions.as_ref()?, p.state == PhaseState::Running)))
}

/// The phase's lines, at most `rows` (the latest windows kept), its summary
/// wrapped at `width`; `None` when no sessions phase has judged a window.
pub fn lines(s: &Snapshot, rows: usize, width: usize) -> Option<Vec<Line<'static>>> {
    let (result, running) = shown(s)?;
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = wrap_words(&summary(result, running), width)
        .into_iter()
        .map(Line::raw)
        .collect();
    if let Some(first) = lines.first_mut() {
        let text = first.to_string();
        let rest = text.strip_prefix("Sessions").unwrap_or(&text).to_string();
        *first = Line::from(vec![Span::styled("Sessions", bold), Span::raw(rest)]);
    }
    lines.push(Line::styled("   at s  open  p99 ms    ok %", bold));
    let room = rows.saturating_sub(lines.len());
    let skipped = result.windows.len().saturating_sub(room);
    lines.extend(result.windows.iter().skip(skipped).map(window_line));
    lines.truncate(rows);
    Some(lines)
}

fn summary(result: &SessionsResult, running: bool) -> String {
    let now = if running {
        format!(" {} open now,", result.open_now)
    } else {
        String::new()
    };
    let held = result
        .held_sessions
        .map_or_else(|| "none held".to_string(), |n| format!("{n} held"));
    let broke = match (result.broke_at_sessions, &result.broke_first) {
        (Some(n), Some(first)) => format!(", broke with {n} open: {first}"),
        _ => String::new(),
    };
    let limit = result
        .generator_limit_at_sessions
        .map_or_else(String::new, |n| {
            format!(", stopped at {n}: mcpstorm's limit")
        });
    format!("Sessions:{now} {held}{broke}{limit}")
}

fn window_line(window: &SessionsWindow) -> Line<'static> {
    let figures = format!(
        "{:>7.1} {:>5} {:>7.1} {:>7.2} ",
        window.at_s,
        window.sessions,
        window.p99_ms,
        window.success_rate * 100.0
    );
    let verdict = match &window.broke_on {
        None => Span::styled("met", Style::default().fg(Color::Green)),
        Some(why) => Span::styled(
            why.split(':').next().unwrap_or("broke").to_string(),
            Style::default().fg(Color::Red),
        ),
    };
    Line::from(vec![Span::raw(figures), verdict])
}
