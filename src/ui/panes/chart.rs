//! What every time-line pane shares: the run's time axis (from 0 to now,
//! the same on every chart), the marks of what happened when (phases,
//! pauses and load changes, crashes, restarts, mcpstorm's own stalls), the
//! series and their labels on the pane's border, and drawing.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};

use super::title::{Part, fit};
use crate::stats::Snapshot;

/// What a line on a chart is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A measured figure: its label (with its value) goes on top.
    Measured,
    /// A limit, baseline or fit: its label goes at the bottom.
    Reference,
    /// A moment (vertical, floor to ceiling): its label goes at the bottom.
    Mark,
}

/// One line on a chart. Its label goes on the pane's border in the line's
/// colour: a legend box would need rows the chart cannot spare and would
/// hide data.
pub struct Series {
    pub label: String,
    /// The short name written at the line's end when colours are off.
    pub tag: Option<&'static str>,
    pub color: Color,
    /// For a mark, only the time counts.
    pub points: Vec<(f64, f64)>,
    pub kind: Kind,
}

pub fn measured(label: String, color: Color, points: Vec<(f64, f64)>) -> Series {
    Series {
        label,
        tag: None,
        color,
        points,
        kind: Kind::Measured,
    }
}

pub fn reference(label: String, color: Color, points: Vec<(f64, f64)>) -> Series {
    Series {
        kind: Kind::Reference,
        ..measured(label, color, points)
    }
}

/// A horizontal reference line across the chart's time range.
pub fn level(label: String, color: Color, y: f64, x: [f64; 2]) -> Series {
    reference(label, color, vec![(x[0], y), (x[1], y)])
}

/// The run's time axis, shared by every chart: from its start to now (to
/// its end, once over), so that a moment is at the same place on each, and
/// a run of a fraction of a second fills the chart rather than a corner
/// of it.
pub fn run_time(s: &Snapshot) -> [f64; 2] {
    let last_window = s.windows.last().map_or(0.0, |w| w.t_s);
    let last_sample = s.resources.series.last().map_or(0.0, |p| p.t_s);
    let end = s.elapsed_s.max(last_window).max(last_sample);
    [0.0, if end > 0.0 { end } else { 1.0 }]
}

/// A time on the axis: tenths below 10 s, whole seconds below 10 minutes,
/// then minutes.
fn time_label(t: f64, end: f64) -> String {
    if end < 10.0 {
        format!("{t:.1}s")
    } else if end < 600.0 {
        format!("{t:.0}s")
    } else {
        let minutes = t / 60.0;
        if (minutes - minutes.round()).abs() < 0.05 {
            format!("{minutes:.0}m")
        } else {
            format!("{minutes:.1}m")
        }
    }
}

/// The time axis' labels: its ends, and its middle where the chart is wide
/// enough for three labels not to run into each other.
fn time_labels(x: [f64; 2], width: u16) -> Vec<Span<'static>> {
    let label = |t: f64| Span::raw(time_label(t, x[1]));
    if width >= 40 {
        vec![label(x[0]), label((x[0] + x[1]) / 2.0), label(x[1])]
    } else {
        vec![label(x[0]), label(x[1])]
    }
}

/// Marks for what happened when, the same on every chart: each phase after
/// the first, each pause, resume and turn of the dial, each crash and
/// restart, each time mcpstorm itself stalled. One label per kind.
pub fn moments(s: &Snapshot) -> Vec<Series> {
    let mut marks = Vec::new();
    let phases: Vec<f64> = s
        .phases
        .iter()
        .skip(1)
        .filter_map(|p| p.started_s)
        .collect();
    marks.extend(marks_at(&phases, "phases".into(), Color::DarkGray));
    let count = s.control_changes.len();
    let control = s.control_changes.last().map_or(String::new(), |last| {
        last.describe(count.checked_sub(2).and_then(|i| s.control_changes.get(i)))
    });
    let times: Vec<f64> = s.control_changes.iter().map(|c| c.at_s).collect();
    marks.extend(marks_at(&times, control, Color::Blue));
    let crashed = format!("crashed ×{}", s.crashes);
    marks.extend(marks_at(&s.crashes_at_s, crashed, Color::LightRed));
    let restarted = format!("restarted ×{}", s.restarts_at_s.len());
    marks.extend(marks_at(&s.restarts_at_s, restarted, Color::Red));
    let stalled_s: f64 = s.stalls.iter().map(|stall| stall.lasted_s).sum();
    let stalls = format!("mcpstorm stalled {stalled_s:.1} s");
    // From start to end: a stall is a span, and the calls in it were timed
    // through it.
    let spans: Vec<f64> = s
        .stalls
        .iter()
        .flat_map(|stall| [stall.at_s, stall.at_s + stall.lasted_s])
        .collect();
    marks.extend(marks_at(&spans, stalls, Color::LightCyan));
    marks
}

fn marks_at(times: &[f64], label: String, color: Color) -> Vec<Series> {
    times
        .iter()
        .enumerate()
        .map(|(i, &t)| Series {
            label: if i == 0 { label.clone() } else { String::new() },
            tag: None,
            color,
            points: vec![(t, 0.0)],
            kind: Kind::Mark,
        })
        .collect()
}

/// The labels of the series of `kinds`, each in its colour, as title parts.
pub fn label_parts(series: &[Series], kinds: &[Kind]) -> Vec<Part> {
    series
        .iter()
        .filter(|s| kinds.contains(&s.kind) && !s.label.is_empty())
        .map(|s| Part::new(s.label.clone(), Style::default().fg(s.color)))
        .collect()
}

/// The pane's block with its title parts on top (`top`: the measured
/// series' labels with the pane's figures, most important first) and at
/// the bottom the reference lines' labels, then `bottom`, then the marks'
/// labels, each fitted to `area`'s width.
pub fn titled<'a>(
    block: Block<'a>,
    area: Rect,
    top: Vec<Part>,
    bottom: Vec<Part>,
    series: &[Series],
) -> Block<'a> {
    // Between the corners.
    let width = usize::from(area.width.saturating_sub(2));
    let block = block.title(fit(&top, width));
    let mut below = label_parts(series, &[Kind::Reference]);
    below.extend(bottom);
    below.extend(label_parts(series, &[Kind::Mark]));
    if below.is_empty() {
        block
    } else {
        block.title_bottom(fit(&below, width))
    }
}

/// How the y axis maps figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// From `floor` (or 0) up to a tenth above the highest point.
    Linear { floor: f64 },
    /// Logarithmic: one spike cannot flatten the rest against the floor.
    Log,
}

impl Scale {
    /// A figure in drawn units (log10 on a log axis).
    fn to_axis(self, v: f64) -> f64 {
        match self {
            Scale::Linear { .. } => v,
            Scale::Log => v.max(1e-6).log10(),
        }
    }

    /// The figure drawn at `v`.
    fn figure_at(self, v: f64) -> f64 {
        match self {
            Scale::Linear { .. } => v,
            Scale::Log => 10f64.powf(v),
        }
    }

    /// The axis' bottom and top, in drawn units, for `series`.
    fn bounds(self, series: &[Series]) -> [f64; 2] {
        let y_max = highest(series);
        match self {
            Scale::Linear { floor } => {
                let bottom = floor.max(0.0);
                [bottom, (y_max * 1.1).max(bottom + 1e-3)]
            }
            Scale::Log => {
                let lowest = lowest_positive(series, &[Kind::Measured, Kind::Reference]).min(y_max);
                // A twentieth of a decade spare at each end.
                let bottom = self.to_axis(lowest) - 0.05;
                let top = self.to_axis(y_max) + 0.05;
                [bottom, top.max(bottom + 0.1)]
            }
        }
    }
}

/// The lowest figure above zero among the series of `kinds`, or f64::MAX.
fn lowest_positive(series: &[Series], kinds: &[Kind]) -> f64 {
    series
        .iter()
        .filter(|s| kinds.contains(&s.kind))
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| *v > 0.0)
        .fold(f64::MAX, f64::min)
}

/// How much higher than the lowest figure the highest may be before a
/// latency chart turns logarithmic: beyond this, a linear axis would show
/// the spike and flatten everything else.
pub const LOG_FROM_RATIO: f64 = 50.0;

/// The highest figure of the lines that are not marks.
pub fn highest(series: &[Series]) -> f64 {
    series
        .iter()
        .filter(|s| s.kind != Kind::Mark)
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
}

/// Whether the measured figures span more than [`LOG_FROM_RATIO`].
pub fn needs_log(series: &[Series]) -> bool {
    let lowest = lowest_positive(series, &[Kind::Measured]);
    lowest < f64::MAX && highest(series) > LOG_FROM_RATIO * lowest
}

pub fn draw_chart(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    series: &[Series],
    x: [f64; 2],
    scale: Scale,
    monochrome: bool,
) {
    let [bottom, top] = scale.bounds(series);
    let drawn: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| match s.kind {
            Kind::Mark => s
                .points
                .first()
                .map(|&(t, _)| vec![(t, bottom), (t, top)])
                .unwrap_or_default(),
            _ => s
                .points
                .iter()
                .map(|&(t, v)| (t, scale.to_axis(v)))
                .collect(),
        })
        .collect();
    // Drawn last-first: marks and reference lines underneath, the main
    // series on top.
    let datasets: Vec<Dataset> = series
        .iter()
        .zip(&drawn)
        .rev()
        .map(|(s, points)| {
            // One point is no line: drawn as a dot.
            let graph = if points.len() == 1 {
                GraphType::Scatter
            } else {
                GraphType::Line
            };
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(graph)
                .style(Style::default().fg(s.color))
                .data(points)
        })
        .collect();
    let y_label = |v: f64| Span::raw(short_number(scale.figure_at(v)));
    let chart = Chart::new(datasets)
        .block(block)
        .legend_position(None)
        .x_axis(Axis::default().bounds(x).labels(time_labels(x, area.width)))
        .y_axis(Axis::default().bounds([bottom, top]).labels(vec![
            y_label(bottom),
            y_label((bottom + top) / 2.0),
            y_label(top),
        ]));
    frame.render_widget(chart, area);
    if monochrome {
        let tagged: Vec<(&'static str, f64)> = series
            .iter()
            .zip(&drawn)
            .filter_map(|(s, points)| Some((s.tag?, points.last()?.1)))
            .collect();
        tag_line_ends(frame.buffer_mut(), area, &tagged, [bottom, top]);
    }
}

/// Without colours the lines look alike: each measured line's tag is
/// written at its end, on the row of its last value (the next free row when
/// two end on one row).
fn tag_line_ends(buffer: &mut Buffer, area: Rect, tagged: &[(&str, f64)], y: [f64; 2]) {
    // The chart's own corner (└) says where its graph is: right of it and
    // above it.
    let Some((corner_x, corner_y)) = (area.top()..area.bottom())
        .flat_map(|row| (area.left()..area.right()).map(move |column| (column, row)))
        .find(|&(column, row)| buffer[(column, row)].symbol() == "└")
    else {
        return;
    };
    let graph_top = area.top() + 1;
    if corner_y <= graph_top {
        return;
    }
    let rows = corner_y - graph_top;
    let right = area.right().saturating_sub(1);
    let mut taken: Vec<u16> = Vec::new();
    for &(tag, value) in tagged {
        let width = tag.chars().count() as u16;
        if right < corner_x + 1 + width {
            return;
        }
        let share = ((value - y[0]) / (y[1] - y[0])).clamp(0.0, 1.0);
        let from_bottom = (share * f64::from(rows - 1)).round() as u16;
        let mut row = corner_y - 1 - from_bottom.min(rows - 1);
        while taken.contains(&row) && row > graph_top {
            row -= 1;
        }
        taken.push(row);
        buffer.set_string(right - width, row, tag, Style::default());
    }
}

/// A number with its sign, as short as [`short_number`].
pub fn signed_short(v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "+" };
    format!("{sign}{}", short_number(v.abs()))
}

/// A number short enough for an axis label.
pub fn short_number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A pane with nothing to draw yet says why.
pub fn waiting(frame: &mut Frame, area: Rect, block: Block, why: &str) {
    let text = Paragraph::new(Line::styled(
        why.to_string(),
        Style::default().fg(Color::DarkGray),
    ))
    .block(block);
    frame.render_widget(text, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_labels_keep_the_precision_the_span_needs() {
        assert_eq!(time_label(0.2, 0.2), "0.2s");
        assert_eq!(time_label(12.4, 12.4), "12s");
        assert_eq!(time_label(900.0, 900.0), "15m");
        assert_eq!(time_label(930.0, 930.0), "15.5m");
    }

    #[test]
    fn a_spike_fifty_times_the_rest_turns_the_axis_logarithmic() {
        let line = |top: f64| measured("p".into(), Color::Green, vec![(0.0, 0.5), (1.0, top)]);
        assert!(!needs_log(&[line(20.0)]));
        assert!(needs_log(&[line(7000.0)]));
    }
}
