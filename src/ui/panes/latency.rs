//! The latency pane: p50, p95, p99 and max of each second over the run,
//! each latency criterion's own limit, and the run's marks.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::Block;

use super::chart::{
    Scale, Series, draw_chart, highest, level, measured, moments, needs_log, run_time, titled,
    waiting,
};
use super::title::Part;
use crate::report::summary::ms;
use crate::stats::{Snapshot, WindowPoint};

/// How far above the highest figure a limit may be and still be drawn: a
/// limit far above them is named, not drawn (drawn, it would flatten them
/// against the floor).
const OFF_THE_CHART: f64 = 3.0;

pub fn latency(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot, monochrome: bool) {
    let Some(last) = s.windows.last() else {
        return waiting(frame, area, block, "waiting for the first calls…");
    };
    let x = run_time(s);
    // A second in which no call finished has no latency (not 0 ms): it is
    // left out of the lines, and "now" says so.
    let line = |name: &'static str, color, pick: fn(&WindowPoint) -> f64| Series {
        tag: Some(name),
        ..measured(
            format!("{name} {}", ms(pick(last))),
            color,
            s.windows
                .iter()
                .filter(|w| w.calls > 0)
                .map(|w| (w.t_s, pick(w)))
                .collect(),
        )
    };
    let mut series = vec![
        line("p50", Color::Green, |w| w.p50_ms),
        line("p95", Color::Yellow, |w| w.p95_ms),
        line("p99", Color::Magenta, |w| w.p99_ms),
        line("max", Color::DarkGray, |w| w.max_ms),
    ];
    let scale = if needs_log(&series) {
        Scale::Log
    } else {
        Scale::Linear { floor: 0.0 }
    };
    // Each latency criterion's own limit, for the figure it caps
    // (`p99(load) <= 3 * p99(warmup)` draws p99's), as the memory and
    // descriptor limits are drawn. On a log axis any limit fits.
    let highest = highest(&series);
    for c in &s.criteria {
        let (Some(metric), Some(limit)) = (c.caps.as_deref(), c.threshold) else {
            continue;
        };
        if series.iter().any(|line| line.tag == Some(metric)) {
            let label = format!("{metric} limit {}", ms(limit));
            series.push(if scale == Scale::Log || limit <= OFF_THE_CHART * highest {
                level(label, Color::Red, limit, x)
            } else {
                Series {
                    points: Vec::new(),
                    ..level(format!("{label} ↑"), Color::Red, limit, x)
                }
            });
        }
    }
    series.extend(moments(s));
    let top = latency_title(s, last, &series);
    let mut bottom = match scale {
        Scale::Log => vec![Part::plain("log scale")],
        Scale::Linear { .. } => Vec::new(),
    };
    // Calls sent late are timed from when they were due: mcpstorm's delay
    // is in their latency, and it says so here, where it shows.
    let (late, worst) = s.sends_late();
    if late > 0 {
        bottom.push(
            Part::new(
                format!("mcpstorm sent {late} late (worst {} ms)", ms(worst)),
                Style::default().fg(Color::Yellow),
            )
            .or(format!("{late} sent late")),
        );
    }
    let block = titled(block, area, top, bottom, &series);
    draw_chart(frame, area, block, &series, x, scale, monochrome);
}

/// The latency figures in the title: the last second's while the run goes
/// (or that no call finished in it, and how many are in flight); the whole
/// run's once it is over (the last second is a fraction of one by then).
fn latency_title(s: &Snapshot, last: &WindowPoint, series: &[Series]) -> Vec<Part> {
    let colours: Vec<Color> = series.iter().map(|line| line.color).collect();
    let figure = |i: usize, name: &str, value: f64| {
        Part::new(
            format!("{name} {}", ms(value)),
            Style::default().fg(colours.get(i).copied().unwrap_or(Color::Reset)),
        )
    };
    let figures = |prefix: &str, p50, p95, p99, max| {
        let mut parts = vec![figure(0, "p50", p50).after(Part::plain(prefix))];
        parts.extend([
            figure(1, "p95", p95),
            figure(2, "p99", p99),
            figure(3, "max", max),
        ]);
        parts
    };
    if s.finished
        && let Some(run) = s.total.latency
    {
        return figures(
            "Latency ms, whole run: ",
            run.p50_ms,
            run.p95_ms,
            run.p99_ms,
            run.max_ms,
        );
    }
    if last.calls == 0 {
        let since = s
            .windows
            .iter()
            .rev()
            .find(|w| w.calls > 0)
            .map_or(0.0, |w| w.t_s);
        let mut parts = vec![Part::plain(format!(
            "Latency ms: no call finished in {:.0} s",
            s.elapsed_s - since
        ))];
        if s.wire.in_flight > 0 {
            parts.push(Part::plain(format!("{} in flight", s.wire.in_flight)));
        }
        return parts;
    }
    figures(
        "Latency ms now: ",
        last.p50_ms,
        last.p95_ms,
        last.p99_ms,
        last.max_ms,
    )
}
