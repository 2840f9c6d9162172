//! A capacity search as it goes, under the acceptance list: each rate
//! tried, what the server answered of it, its p99 and the server's CPU, and
//! whether the step met the objective; above them, the result so far.

use ratatui::text::{Line, Span};

use super::text::{latest, search_table, verdict_word};
use crate::stats::{CapacityResult, CapacityStep, Snapshot};

/// The search's lines, at most `rows` of them (the latest steps kept),
/// its summary wrapped at `width`; `None` when no capacity search has
/// ended a step.
pub fn lines(s: &Snapshot, rows: usize, width: usize) -> Option<Vec<Line<'static>>> {
    let (result, searching) = latest(s, |p| p.capacity.as_ref())?;
    // The server's CPU where a row has room for it and the longest verdict
    // word (`throughput`): a column that does not fit is left out whole.
    let with_cpu = width >= ROW_WIDTH + CPU_WIDTH + "throughput".len();
    let heading = if with_cpu {
        " rate/s  got/s  p99 ms  CPU %"
    } else {
        " rate/s  got/s  p99 ms"
    };
    let steps = result
        .steps
        .iter()
        .map(|step| step_line(step, with_cpu))
        .collect();
    Some(search_table(
        &summary(result, searching),
        heading,
        steps,
        rows,
        width,
    ))
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
    Line::from(vec![
        Span::raw(figures),
        verdict_word(step.broke_on.as_deref()),
    ])
}
