//! Sessions as users as they go, under the acceptance list: the sessions
//! open and held so far, then a row a window — its end, the sessions open,
//! its p99 and success, met or what broke.

use ratatui::text::{Line, Span};

use super::text::{latest, search_table, verdict_word};
use crate::stats::{SessionsResult, SessionsWindow, Snapshot};

/// The phase's lines, at most `rows` (the latest windows kept), its summary
/// wrapped at `width`; `None` when no sessions phase has judged a window.
pub fn lines(s: &Snapshot, rows: usize, width: usize) -> Option<Vec<Line<'static>>> {
    let (result, running) = latest(s, |p| p.sessions.as_ref())?;
    let windows = result.windows.iter().map(window_line).collect();
    Some(search_table(
        &summary(result, running),
        "   at s  open  p99 ms    ok %",
        windows,
        rows,
        width,
    ))
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
    Line::from(vec![
        Span::raw(figures),
        verdict_word(window.broke_on.as_deref()),
    ])
}
