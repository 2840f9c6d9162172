//! A capacity search as it goes, under the acceptance list: each rate
//! tried, what the server answered of it, its p99 and the server's CPU, and
//! whether the step met the objective; above them, the result so far.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::text::wrap_words;
use crate::stats::{CapacityResult, CapacityStep, PhaseState, Snapshot};

/// The search to show: the running phase's, else the last one run.
fn shown(s: &Snapshot) -> Option<(&CapacityResult, bool)> {
    s.phases
        .iter()
        .rev()
        .find_map(|p| Some((p.capacity.as_ref()?, p.state == PhaseState::Running)))
}

/// The search's lines, at most `rows` of them (the latest steps kept),
/// its summary wrapped at `width`; `None` when no capacity search has
/// ended a step.
pub fn lines(s: &Snapshot, rows: usize, width: usize) -> Option<Vec<Line<'static>>> {
    let (result, searching) = shown(s)?;
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = wrap_words(&summary(result, searching), width)
        .into_iter()
        .map(Line::raw)
        .collect();
    if let Some(first) = lines.first_mut() {
        // The pane's name for the search, in bold as a heading.
        let text = first.to_string();
        let rest = text.strip_prefix("Capacity").unwrap_or(&text).to_string();
        *first = Line::from(vec![Span::styled("Capacity", bold), Span::raw(rest)]);
    }
    // The server's CPU where a row has room for it and the longest verdict
    // word (`throughput`): a column that does not fit is left out whole.
    let with_cpu = width >= ROW_WIDTH + CPU_WIDTH + "throughput".len();
    let head = if with_cpu {
        " rate/s  got/s  p99 ms  CPU %"
    } else {
        " rate/s  got/s  p99 ms"
    };
    lines.push(Line::styled(head, bold));
    let room = rows.saturating_sub(lines.len());
    let skipped = result.steps.len().saturating_sub(room);
    lines.extend(
        result
            .steps
            .iter()
            .skip(skipped)
            .map(|step| step_line(step, with_cpu)),
    );
    lines.truncate(rows);
    Some(lines)
}

fn summary(result: &CapacityResult, searching: bool) -> String {
    let rate = |r: f64| format!("{r:.0}/s");
    let met = result
        .highest_met_per_s
        .map_or_else(|| "none met".to_string(), |r| format!("{} met", rate(r)));
    let broke = match (result.broke_at_per_s, &result.broke_first) {
        (Some(r), Some(first)) => format!(", {} broke: {first}", rate(r)),
        _ => String::new(),
    };
    let limit = result.generator_limit_per_s.map_or_else(String::new, |r| {
        format!(", stopped at {}: mcpstorm's limit", rate(r))
    });
    let going = if searching { " searching" } else { "" };
    format!("Capacity{going}: {met}{broke}{limit}")
}

/// A row's rate, answered and p99 columns, and the CPU column's.
const ROW_WIDTH: usize = 23;
const CPU_WIDTH: usize = 7;

fn step_line(step: &CapacityStep, with_cpu: bool) -> Line<'static> {
    let mut figures = format!(
        "{:>7.0} {:>6.0} {:>7.1} ",
        step.rate_per_s, step.achieved_per_s, step.p99_ms
    );
    if with_cpu {
        let cpu = step.cost.server_cpu.as_ref().map_or_else(
            || "-".to_string(),
            |c| format!("{:.0}", c.cores_used * 100.0),
        );
        figures.push_str(&format!("{cpu:>6} "));
    }
    // What broke, in the word the result uses (`latency: p99 …`).
    let verdict = match &step.broke_on {
        None => Span::styled("met", Style::default().fg(Color::Green)),
        Some(why) => Span::styled(
            why.split(':').next().unwrap_or("broke").to_string(),
            Style::default().fg(Color::Red),
        ),
    };
    Line::from(vec![Span::raw(figures), verdict])
}
