//! The text panes: acceptance, outcomes, per tool, server stderr.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::state_style;
use super::title::{Part, fit, fits};
use crate::acceptance::CriterionState;
use crate::acceptance::format_value;
use crate::stats::{PhaseSnapshot, PhaseState, Snapshot};

pub fn acceptance(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot) {
    let rows = area.height.saturating_sub(2) as usize;
    // A capacity search, or sessions as users, takes the rows below the
    // criteria, each criterion then on one line.
    let (search_rows, width) = (
        rows.saturating_sub(s.criteria.len() + 1),
        usize::from(area.width.saturating_sub(2)),
    );
    let search = super::capacity::lines(s, search_rows, width)
        .or_else(|| super::sessions::lines(s, search_rows, width));
    let mut lines = Vec::new();
    if s.criteria.is_empty() && search.is_none() {
        lines.push(Line::raw("no criteria in this scenario"));
    }
    // The words in one column, a space after the longest shown (SETTLING).
    let column = s
        .criteria
        .iter()
        .map(|c| c.state.word().len() + 1)
        .max()
        .unwrap_or(0)
        .max(8);
    // The figures under each criterion, whole (wrapped: why a figure is
    // still settling is the end of its line) when they fit; else their
    // first line; else one line per criterion, its left-hand value before
    // the expression, so no criterion drops out of view and a narrow pane
    // cuts the expression's end, never the figure.
    let width = (area.width.saturating_sub(2) as usize).saturating_sub(column);
    let mut details: Vec<Vec<String>> = s
        .criteria
        .iter()
        .map(|c| wrap_words(&c.detail, width))
        .collect();
    if details.iter().map(|d| d.len() + 1).sum::<usize>() > rows {
        details.iter_mut().for_each(|d| d.truncate(1));
    }
    let roomy = s.criteria.len() * 2 <= rows && search.is_none();
    for (c, detail) in s.criteria.iter().zip(&details) {
        let state = Span::styled(format!("{:<column$}", c.state.word()), state_style(c.state));
        let expression = Span::styled(
            c.expression.clone(),
            Style::default().add_modifier(Modifier::BOLD),
        );
        if roomy {
            lines.push(Line::from(vec![state, expression]));
            // The terminal's own colour, not grey: readable on a light
            // background too.
            for part in detail {
                lines.push(Line::raw(format!("{:column$}{part}", "")));
            }
        } else {
            let value = c.value.map_or("no data".to_string(), format_value);
            lines.push(Line::from(vec![
                state,
                Span::raw(format!("{value} ")),
                expression,
            ]));
        }
    }
    if let Some(search) = search {
        if !s.criteria.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.extend(search);
    }
    // The count of each state beside the pane's name, or under the pane
    // when they do not fit whole beside it.
    let width = usize::from(area.width.saturating_sub(2));
    let name = Part::plain("Acceptance");
    let counts = state_counts(s);
    let mut title = vec![name.clone()];
    title.extend(counts.iter().cloned());
    let block = if fits(&title, width) {
        block.title(fit(&title, width))
    } else {
        block
            .title(fit(&[name], width))
            .title_bottom(fit(&counts, width))
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// How many criteria are in each state, in the words the rows use,
/// failures first: a pending or settling criterion is not counted as
/// passing.
fn state_counts(s: &Snapshot) -> Vec<Part> {
    use CriterionState::*;
    let mut parts = Vec::new();
    for state in [Fail, Failing, Pass, Passing, Settling, Pending, NotMeasured] {
        let n = s.criteria.iter().filter(|c| c.state == state).count();
        if n > 0 {
            parts.push(Part::new(
                format!("{n} {}", state.word()),
                state_style(state),
            ));
        }
    }
    parts
}

/// What `pick` finds in the running phase, else in the last phase run
/// that has it, and whether its phase is running.
pub(super) fn latest<T>(
    s: &Snapshot,
    pick: impl Fn(&PhaseSnapshot) -> Option<&T>,
) -> Option<(&T, bool)> {
    s.phases
        .iter()
        .rev()
        .find_map(|p| Some((pick(p)?, p.state == PhaseState::Running)))
}

/// A search's lines under the criteria (a capacity search's steps, sessions
/// as users' windows): its summary wrapped at `width`, its first word in
/// bold, the columns' heading, then the latest of `rows_of` that fit in
/// `rows`.
pub(super) fn search_table(
    summary: &str,
    heading: &'static str,
    rows_of: Vec<Line<'static>>,
    rows: usize,
    width: usize,
) -> Vec<Line<'static>> {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = wrap_words(summary, width)
        .into_iter()
        .map(Line::raw)
        .collect();
    if let Some(first) = lines.first_mut() {
        let text = first.to_string();
        let (name, rest) = text.split_at(text.find([' ', ':']).unwrap_or(text.len()));
        *first = Line::from(vec![
            Span::styled(name.to_string(), bold),
            Span::raw(rest.to_string()),
        ]);
    }
    lines.push(Line::styled(heading, bold));
    let room = rows.saturating_sub(lines.len());
    let skipped = rows_of.len().saturating_sub(room);
    lines.extend(rows_of.into_iter().skip(skipped));
    lines.truncate(rows);
    lines
}

/// A step's or window's verdict: `met` in green, or what broke (the word
/// before the colon of `latency: p99 …`) in red.
pub(super) fn verdict_word(broke_on: Option<&str>) -> Span<'static> {
    match broke_on {
        None => Span::styled("met", Style::default().fg(Color::Green)),
        Some(why) => Span::styled(
            why.split(':').next().unwrap_or("broke").to_string(),
            Style::default().fg(Color::Red),
        ),
    }
}

/// `text` in lines of at most `width` characters, broken between words (a
/// word longer than a line is cut); at least one line.
pub(super) fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        while let Some(line) = lines.last_mut() {
            let used = line.chars().count();
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= width {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.drain(..));
                break;
            }
            if used == 0 {
                // Longer than a whole line: cut it.
                let rest = word.split_off(width);
                line.extend(word.drain(..));
                word = rest;
            }
            lines.push(String::new());
        }
    }
    lines
}

pub fn outcomes(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot) {
    let o = &s.total.outcomes;
    let rate = s.total.success_rate;
    // Green or red only as the criteria on it judge it: no fixed cut-off.
    let rate_style = match rate {
        Some(_) => success_judged(s).map_or(Style::default(), |state| {
            Style::default().fg(state_style(state).fg.unwrap_or(Color::Reset))
        }),
        None => Style::default().fg(Color::DarkGray),
    }
    .add_modifier(Modifier::BOLD);
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines = pack(
        vec![
            vec![
                Span::raw("success "),
                Span::styled(
                    rate.map_or("-".into(), |r| format!("{:.2} %", r * 100.0)),
                    rate_style,
                ),
            ],
            vec![Span::raw(format!("of {} calls", s.total.calls))],
        ],
        width,
    );
    let count = |label: &str, n: u64| {
        let style = if n > 0 && label != "ok" {
            Style::default().fg(Color::Red)
        } else {
            Style::default()
        };
        vec![Span::styled(format!("{label} {n}"), style)]
    };
    lines.extend(pack(
        vec![
            count("ok", o.ok),
            count("JSON-RPC error", o.jsonrpc_error),
            count("isError", o.tool_error),
        ],
        width,
    ));
    lines.extend(pack(
        vec![
            count("timeout", o.timeout),
            count("transport", o.transport_error),
            count("protocol", o.protocol_error),
        ],
        width,
    ));
    let w = &s.wire;
    lines.extend(pack(
        vec![
            count("id mix-ups", w.correlation_violations),
            count("bad lines", w.protocol_violations),
            vec![Span::raw(format!("notifications {}", w.notifications))],
        ],
        width,
    ));
    if w.sessions_expired + w.http_errors + w.auth_failures > 0 {
        lines.extend(pack(
            vec![
                count("sessions lost (404)", w.sessions_expired),
                count("HTTP errors", w.http_errors),
                count("auth refused", w.auth_failures),
            ],
            width,
        ));
    }
    // Robustness phases: each bad input the server mishandled, by name.
    for tally in s
        .phases
        .iter()
        .filter_map(|p| p.bad_inputs.as_ref())
        .flatten()
    {
        if tally.mishandled() > 0 {
            let what = tally
                .answers
                .first()
                .map_or("", |(answer, _)| answer.as_str());
            lines.push(Line::styled(
                format!(
                    "✗ bad input: {} → {what} (expected {})",
                    tally.input, tally.expected
                ),
                Style::default().fg(Color::Red),
            ));
        }
    }
    if s.crashes > 0 {
        lines.push(Line::styled(
            format!("server crashed {} time(s)", s.crashes),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    // The newest first; the same message once, with how many times.
    let mut errors: Vec<(&String, usize)> = Vec::new();
    for error in s.recent_errors.iter().rev() {
        match errors.iter_mut().find(|(seen, _)| *seen == error) {
            Some((_, times)) => *times += 1,
            None => errors.push((error, 1)),
        }
    }
    for (error, times) in errors {
        let text = if times > 1 {
            format!("✗ ×{times} {error}")
        } else {
            format!("✗ {error}")
        };
        lines.push(Line::styled(text, Style::default().fg(Color::Red)));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block.title(" Outcomes "))
            .wrap(Wrap { trim: true }),
        area,
    );
}

/// The state of the criteria that judge the success rate (`success_rate`,
/// `error_rate`): failing if any fails, passing if all pass; `None` when
/// none judges it, or they are still out.
fn success_judged(s: &Snapshot) -> Option<CriterionState> {
    let judging: Vec<CriterionState> = s
        .criteria
        .iter()
        .filter(|c| {
            c.expression
                .split(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .any(|word| word == "success_rate" || word == "error_rate")
        })
        .map(|c| c.state)
        .collect();
    if let Some(failed) = judging.iter().find(|state| state.is_failure()) {
        return Some(*failed);
    }
    judging
        .iter()
        .all(|state| matches!(state, CriterionState::Passing | CriterionState::Pass))
        .then(|| judging.first().copied())
        .flatten()
}

/// Items (each a few spans kept together: a label and its figure) on as
/// few lines of `width` as they fit, two spaces apart: a line is never
/// broken inside an item, and never ends in spaces that would wrap into a
/// blank line.
fn pack(items: Vec<Vec<Span<'static>>>, width: usize) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = Vec::new();
    let mut current: Vec<Span> = Vec::new();
    let mut used = 0;
    for item in items {
        let columns: usize = item.iter().map(|s| s.content.chars().count()).sum();
        if used > 0 && used + 2 + columns > width {
            lines.push(Line::from(std::mem::take(&mut current)));
            used = 0;
        }
        if used > 0 {
            current.push(Span::raw("  "));
            used += 2;
        }
        current.extend(item);
        used += columns;
    }
    if !current.is_empty() {
        lines.push(Line::from(current));
    }
    lines
}

/// The first `chars` characters of a one-style line, ending in `…`.
fn cut(line: Line<'static>, chars: usize) -> Line<'static> {
    let style = line.spans.first().map_or(line.style, |span| span.style);
    let text: String = line
        .spans
        .iter()
        .flat_map(|span| span.content.chars())
        .take(chars.saturating_sub(1))
        .chain(std::iter::once('…'))
        .collect();
    Line::styled(text, style)
}

pub fn stderr(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot) {
    // The server's own lines first, then samples of bad lines, then the run's
    // notes (crash, abort): the most important last, where they stay in view.
    let mut lines: Vec<Line> = s.stderr_tail.iter().map(|l| Line::raw(l.clone())).collect();
    lines.extend(
        s.wire
            .violation_samples
            .iter()
            .map(|v| Line::styled(format!("bad line: {v}"), Style::default().fg(Color::Red))),
    );
    lines.extend(
        s.notes
            .iter()
            .map(|n| Line::styled(format!("note: {n}"), Style::default().fg(Color::Yellow))),
    );
    if lines.is_empty() {
        lines.push(Line::styled(
            "(the server wrote nothing to stderr)",
            Style::default().fg(Color::DarkGray),
        ));
    }
    // Lines wrap (a note is worth reading whole); the last ones stay in view.
    // Rows are counted a little short of the width, as word wrapping leaves
    // ragged ends.
    let width = (area.width.saturating_sub(2) as usize * 4 / 5).max(1);
    let mut room = area.height.saturating_sub(2) as usize;
    let mut shown = Vec::new();
    for line in lines.into_iter().rev() {
        let rows = line.width().div_ceil(width).max(1);
        if rows > room {
            // A line longer than the room left (a 4 KB log line) shows its
            // beginning, rather than leave the pane blank.
            if room > 0 {
                shown.push(cut(line, room * width));
            }
            break;
        }
        room -= rows;
        shown.push(line);
    }
    shown.reverse();
    frame.render_widget(
        Paragraph::new(shown)
            .block(block.title(" Server stderr "))
            .wrap(Wrap { trim: false }),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_within_the_width_and_a_long_one_is_cut() {
        assert_eq!(wrap_words("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap_words("abcdefghij x", 4), ["abcd", "efgh", "ij x"]);
        assert_eq!(wrap_words("", 4), [""]);
        assert_eq!(wrap_words("é é é", 3), ["é é", "é"]);
        assert_eq!(wrap_words("word", 0), ["w", "o", "r", "d"]);
    }

    fn texts(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn items_are_packed_whole_and_no_line_ends_in_spaces() {
        let items = || {
            ["ok 276", "JSON-RPC error 0", "isError 3"]
                .map(|t| vec![Span::raw(t)])
                .to_vec()
        };
        // Exactly as wide as the three: one line, no spaces after (they
        // wrapped into a blank line).
        assert_eq!(
            texts(&pack(items(), 35)),
            ["ok 276  JSON-RPC error 0  isError 3"]
        );
        // One column less: the last item whole on the next line.
        assert_eq!(
            texts(&pack(items(), 34)),
            ["ok 276  JSON-RPC error 0", "isError 3"]
        );
        // Narrower than an item: it stands alone (the pane cuts it).
        assert_eq!(
            texts(&pack(items(), 5)),
            ["ok 276", "JSON-RPC error 0", "isError 3"]
        );
    }
}
