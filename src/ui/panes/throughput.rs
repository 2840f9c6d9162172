//! The throughput pane: calls finished per second over the run, the errors
//! among them, the rate an open model sets out to send (with the load dial
//! and pauses applied), and how the load generator itself is doing: its
//! late sends and worst lag, its own CPU.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::Block;

use super::chart::{
    Kind, Scale, Series, draw_chart, label_parts, measured, moments, reference, run_time,
    short_number, titled, waiting,
};
use super::title::Part;
use crate::report::summary::ms;
use crate::stats::{PhaseSnapshot, Snapshot};

pub fn throughput(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot, monochrome: bool) {
    let Some(last) = s.windows.last() else {
        return waiting(frame, area, block, "waiting for the first calls…");
    };
    let x = run_time(s);
    let (rate, when) = if s.finished {
        (s.total.throughput_per_s, "on average")
    } else {
        (last.calls_per_s, "now")
    };
    let now = format!("Throughput {rate:.0} calls/s {when}");
    let mut series = vec![Series {
        tag: Some("ok"),
        ..measured(
            now,
            Color::Green,
            s.windows.iter().map(|w| (w.t_s, w.calls_per_s)).collect(),
        )
    }];
    if s.windows.iter().any(|w| w.errors > 0) {
        let per_s = |errors: u64, span_s: f64| errors as f64 / span_s.max(1e-3);
        series.push(Series {
            tag: Some("err"),
            ..measured(
                format!("errors/s {}", short_number(per_s(last.errors, last.span_s))),
                Color::Red,
                s.windows
                    .iter()
                    .map(|w| (w.t_s, per_s(w.errors, w.span_s)))
                    .collect(),
            )
        });
    }
    series.extend(target_lines(s));
    series.extend(moments(s));
    let mut top = label_parts(&series, &[Kind::Measured]);
    if let Some(first) = top.first_mut() {
        *first = std::mem::take(first)
            .or(format!("Throughput {rate:.0}/s"))
            .or(format!("{rate:.0} calls/s"));
    }
    let block = titled(block, area, top, generator_health(s), &series);
    let scale = Scale::Linear { floor: 0.0 };
    draw_chart(frame, area, block, &series, x, scale, monochrome);
}

/// The rate the open model set out to send at each second, the load dial
/// and pauses applied: one line per stretch with a target (a closed model
/// has none: it sends as fast as answers come).
fn target_lines(s: &Snapshot) -> Vec<Series> {
    let mut lines: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for w in &s.windows {
        let start = w.t_s - w.span_s;
        match target_at(s, start + w.span_s / 2.0) {
            Some(rate) => {
                if !open {
                    lines.push(Vec::new());
                }
                if let Some(line) = lines.last_mut() {
                    line.extend([(start, rate), (w.t_s, rate)]);
                }
                open = true;
            }
            None => open = false,
        }
    }
    let now = target_at(s, s.elapsed_s).or_else(|| lines.last()?.last().map(|p| p.1));
    let label = now.map_or("target".to_string(), |rate| {
        format!("target {}/s", short_number(rate))
    });
    lines
        .into_iter()
        .enumerate()
        .map(|(i, points)| {
            let label = if i == 0 { label.clone() } else { String::new() };
            reference(label, Color::Cyan, points)
        })
        .collect()
}

/// The open model's rate at `t_s` on the run clock, as the dial had it.
fn target_at(s: &Snapshot, t_s: f64) -> Option<f64> {
    let phase: &PhaseSnapshot = s
        .phases
        .iter()
        .rfind(|p| p.started_s.is_some_and(|start| start <= t_s))?;
    let start = phase.started_s?;
    if t_s > start + phase.duration_s + 1.0 {
        return None;
    }
    let rate = phase.target_at(t_s - start)?;
    let control = s.control_changes.iter().rfind(|c| c.at_s <= t_s);
    Some(match control {
        Some(c) if c.paused => 0.0,
        Some(c) if phase.follows_the_dial => rate * c.load_scale,
        _ => rate,
    })
}

/// How the load generator is doing: its own CPU (a share of one core), and
/// in an open model the sends that left late and the worst lag. Yellow when
/// sends were late: the figures may be mcpstorm's, not the server's.
fn generator_health(s: &Snapshot) -> Vec<Part> {
    let mut parts = Vec::new();
    if let Some(cpu) = s.resources.self_cpu_percent {
        parts.push(Part::plain(format!("mcpstorm CPU {cpu:.0} %")));
    }
    if s.phases.iter().any(|p| p.target_per_s.is_some()) {
        let (late, worst) = s.sends_late();
        let style = if late > 0 {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        parts.push(
            Part::new(format!("late sends {late} (worst {} ms)", ms(worst)), style)
                .or(format!("late {late}")),
        );
    }
    parts
}
