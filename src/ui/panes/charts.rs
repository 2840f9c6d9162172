//! The time-line panes: latency, memory, file descriptors. Each draws its
//! series from the snapshot, plus the reference lines its criteria use.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};

use super::title::{Part, fit};
use super::{FD_LIMIT, RSS_GROWTH_LIMIT, criterion_threshold};
use crate::report::summary::ms;
use crate::stats::trend::retained_floor;
use crate::stats::{ProbePoint, ResourceSnapshot, Snapshot, WindowPoint};

/// One line on a chart. Its label goes on the pane's border in the line's
/// colour (measured series on top, reference lines at the bottom): a legend
/// box would need rows the chart cannot spare and would hide data.
struct Series {
    label: String,
    color: Color,
    points: Vec<(f64, f64)>,
    reference: bool,
}

fn measured(label: String, color: Color, points: Vec<(f64, f64)>) -> Series {
    Series {
        label,
        color,
        points,
        reference: false,
    }
}

/// A horizontal reference line across the chart's time range.
fn level(label: String, color: Color, y: f64, x: [f64; 2]) -> Series {
    Series {
        label,
        color,
        points: vec![(x[0], y), (x[1], y)],
        reference: true,
    }
}

/// What the trend is fitted to, drawn under RSS: the floor from the
/// baseline on (at each sample, the lowest RSS the server goes back to
/// later) and the fitted line through it (the trend's slope per call, laid
/// over the calls made by each sample).
fn trend_evidence(r: &ResourceSnapshot) -> Vec<Series> {
    let Some(since) = r.baseline_at_s else {
        return Vec::new();
    };
    let after: Vec<_> = r.series.iter().filter(|p| p.t_s >= since).collect();
    let lows: Vec<f64> = after.iter().map(|p| p.rss_min_mb).collect();
    let floor: Vec<(f64, f64)> = after
        .iter()
        .map(|p| p.t_s)
        .zip(retained_floor(&lows))
        .collect();
    let (Some(first), Some(&(_, start))) = (after.first(), floor.first()) else {
        return Vec::new();
    };
    let mut evidence = vec![Series {
        label: "floor".to_string(),
        color: Color::Yellow,
        points: floor,
        reference: true,
    }];
    if let Some(trend) = &r.rss_trend {
        let mb_per_call = trend.kb_per_call / 1024.0;
        let calls_at = |p: &&ProbePoint| p.rss_min_calls.saturating_sub(first.rss_min_calls) as f64;
        evidence.push(Series {
            label: "fit".to_string(),
            color: Color::Magenta,
            points: after
                .iter()
                .map(|p| (p.t_s, start + mb_per_call * calls_at(p)))
                .collect(),
            reference: true,
        });
    }
    evidence
}

/// Vertical marks where each phase after the first began.
fn phase_marks(s: &Snapshot, series: &[Series]) -> Vec<Series> {
    let starts: Vec<f64> = s
        .phases
        .iter()
        .skip(1)
        .filter_map(|p| p.started_s)
        .collect();
    vertical_marks(&starts, "phases".to_string(), Color::DarkGray, series)
}

/// How far above the highest figure a limit may be and still be drawn.
const OFF_THE_CHART: f64 = 3.0;

/// Vertical marks where a person paused, resumed or turned the load dial.
fn control_marks(s: &Snapshot, series: &[Series]) -> Vec<Series> {
    let times: Vec<f64> = s.control_changes.iter().map(|c| c.at_s).collect();
    // One label for them all: the last change.
    let count = s.control_changes.len();
    let label = s.control_changes.last().map_or(String::new(), |last| {
        last.describe(count.checked_sub(2).and_then(|i| s.control_changes.get(i)))
    });
    vertical_marks(&times, label, Color::Blue, series)
}

/// Vertical marks where the server was started again after a crash
/// (on_crash = "restart").
fn restart_marks(s: &Snapshot, series: &[Series]) -> Vec<Series> {
    let label = format!("restarted ×{}", s.restarts_at_s.len());
    vertical_marks(&s.restarts_at_s, label, Color::Red, series)
}

/// A vertical line at each of `times`, up to the highest point of `series`;
/// one label for them all.
fn vertical_marks(times: &[f64], label: String, color: Color, series: &[Series]) -> Vec<Series> {
    let top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    times
        .iter()
        .enumerate()
        .map(|(i, &t)| Series {
            label: if i == 0 { label.clone() } else { String::new() },
            color,
            points: vec![(t, 0.0), (t, top)],
            reference: true,
        })
        .collect()
}

/// The labels of the series that are (or are not) references, each in its
/// colour, as title parts.
fn label_parts(series: &[Series], references: bool) -> Vec<Part> {
    series
        .iter()
        .filter(|s| s.reference == references && !s.label.is_empty())
        .map(|s| Part::new(s.label.clone(), Style::default().fg(s.color)))
        .collect()
}

/// The pane's block with its title parts on top (`top`: the measured
/// series' labels with the pane's figures, most important first) and the
/// reference lines' labels at the bottom, each fitted to `area`'s width.
fn titled<'a>(block: Block<'a>, area: Rect, top: Vec<Part>, series: &[Series]) -> Block<'a> {
    // Between the corners.
    let width = usize::from(area.width.saturating_sub(2));
    let block = block.title(fit(&top, width));
    let references = label_parts(series, true);
    if references.is_empty() {
        block
    } else {
        block.title_bottom(fit(&references, width))
    }
}

fn time_bounds(first: f64, last: f64) -> [f64; 2] {
    [first, last.max(first + 1.0)]
}

fn draw_chart(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    series: &[Series],
    x: [f64; 2],
    y_unit: &str,
    y_floor: f64,
) {
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let top = (y_max * 1.1).max(y_floor + 1e-3);
    let bottom = if y_floor > 0.0 { y_floor } else { 0.0 };
    // Drawn last-first: reference lines underneath, the main series on top.
    let datasets: Vec<Dataset> = series
        .iter()
        .rev()
        .map(|s| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(s.color))
                .data(&s.points)
        })
        .collect();
    let y_label = |v: f64| Span::raw(format!("{}{y_unit}", short_number(v)));
    let chart = Chart::new(datasets)
        .block(block)
        .legend_position(None)
        .x_axis(Axis::default().bounds(x).labels(vec![
            Span::raw(format!("{:.0}s", x[0])),
            Span::raw(format!("{:.0}s", x[1])),
        ]))
        .y_axis(Axis::default().bounds([bottom, top]).labels(vec![
            y_label(bottom),
            y_label((bottom + top) / 2.0),
            y_label(top),
        ]));
    frame.render_widget(chart, area);
}

/// A number with its sign, as short as [`short_number`].
fn signed_short(v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "+" };
    format!("{sign}{}", short_number(v.abs()))
}

/// A number short enough for an axis label.
fn short_number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn waiting(frame: &mut Frame, area: Rect, block: Block, why: &str) {
    let text = Paragraph::new(Line::styled(
        why.to_string(),
        Style::default().fg(Color::DarkGray),
    ))
    .block(block);
    frame.render_widget(text, area);
}

pub fn latency(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot) {
    let (Some(first), Some(last)) = (s.windows.first(), s.windows.last()) else {
        return waiting(frame, area, block, "waiting for the first calls…");
    };
    let x = time_bounds(first.t_s - first.span_s, last.t_s);
    // A second in which no call finished has no latency (not 0 ms): it is
    // left out of the lines, and "now" says so.
    let line = |name: &str, color, pick: fn(&crate::stats::WindowPoint) -> f64| {
        measured(
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
    // Each latency criterion's own limit, for the figure it caps
    // (`p99(load) <= 3 * p99(warmup)` draws p99's), as the memory and
    // descriptor limits are drawn.
    // A limit far above the figures is named, not drawn: drawn, it would
    // flatten them against the floor.
    let highest = series
        .iter()
        .flat_map(|line| line.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    for c in &s.criteria {
        let (Some(metric), Some(limit)) = (c.caps.as_deref(), c.threshold) else {
            continue;
        };
        let drawn = format!("{metric} ");
        if series.iter().any(|line| line.label.starts_with(&drawn)) {
            let label = format!("{metric} limit {}", ms(limit));
            series.push(if limit <= OFF_THE_CHART * highest {
                level(label, Color::Red, limit, x)
            } else {
                Series {
                    points: Vec::new(),
                    ..level(format!("{label} ↑"), Color::Red, limit, x)
                }
            });
        }
    }
    let marks = restart_marks(s, &series);
    series.extend(marks);
    let marks = control_marks(s, &series);
    series.extend(marks);
    let top = latency_title(s, last, &series);
    let block = titled(block, area, top, &series);
    draw_chart(frame, area, block, &series, x, "", 0.0);
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

pub fn memory(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot) {
    let r = &s.resources;
    if !r.sampled || r.series.is_empty() {
        return waiting(frame, area, block, not_sampled(s));
    }
    let rss_mb = r.rss_current_mb.unwrap_or(0.0);
    let (current, short) = match r.rss_growth_mb {
        Some(growth) => (
            format!("RSS {rss_mb:.1} MB ({growth:+.1})"),
            format!("RSS {rss_mb:.0} MB ({growth:+.0})"),
        ),
        None => (format!("RSS {rss_mb:.1} MB"), format!("RSS {rss_mb:.0} MB")),
    };
    // The trend with how sure it is: its 95 % half-interval, the
    // collections seen and how long it has held, or that its floor is not
    // known yet (no evidence). Per call in KB, as its criteria read it.
    let mut trend: Vec<Part> = Vec::new();
    match &r.rss_trend {
        Some(t) => {
            let half = (t.kb_per_call_high - t.kb_per_call_low) / 2.0;
            let kb = t.kb_per_call;
            trend.push(
                Part::plain(format!("trend {kb:+.2} KB/call ±{half:.2}"))
                    .or(format!("{kb:+.2}±{half:.2} KB/call"))
                    .or(format!(
                        "{}±{} KB/call",
                        signed_short(kb),
                        short_number(half)
                    )),
            );
            if t.settling.is_some() {
                trend.push(Part::plain("settling"));
            } else {
                trend.push(Part::plain(format!("{} GC", t.collections)));
                if let Some(steady) = t.steady_for_s {
                    trend.push(Part::plain(format!("steady {steady:.0} s")));
                }
            }
        }
        None => trend.push(Part::plain("trend pending")),
    }
    let first = r.series[0].t_s;
    let x = time_bounds(first, r.series[r.series.len() - 1].t_s);
    let mut series = vec![measured(
        current,
        Color::Green,
        r.series.iter().map(|p| (p.t_s, p.rss_mb)).collect(),
    )];
    if let Some(baseline) = r.rss_baseline_mb {
        series.push(level(
            format!("baseline {baseline:.1}"),
            Color::Cyan,
            baseline,
            x,
        ));
        if let Some(allowed) = criterion_threshold(s, RSS_GROWTH_LIMIT) {
            series.push(level(
                format!("limit {:.1}", baseline + allowed),
                Color::Red,
                baseline + allowed,
                x,
            ));
        }
    }
    series.extend(trend_evidence(r));
    let floor = r
        .series
        .iter()
        .map(|p| p.rss_min_mb)
        .fold(f64::MAX, f64::min);
    let marks = restart_marks(s, &series);
    series.extend(marks);
    let marks = control_marks(s, &series);
    series.extend(marks);
    series.extend(phase_marks(s, &series));
    let mut top = label_parts(&series, false);
    if let Some(first) = top.first_mut() {
        *first = std::mem::take(first).or(short);
    }
    top.extend(trend);
    let block = titled(block, area, top, &series);
    draw_chart(frame, area, block, &series, x, "", (floor * 0.9).floor());
}

pub fn fds(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot) {
    let r = &s.resources;
    if !r.sampled || r.series.is_empty() {
        return waiting(frame, area, block, not_sampled(s));
    }
    let first = r.series[0].t_s;
    let x = time_bounds(first, r.series[r.series.len() - 1].t_s);
    let mut series = vec![
        measured(
            format!(
                "FDs {} (max {})",
                r.fds_current.unwrap_or(0),
                r.fds_max.unwrap_or(0)
            ),
            Color::Green,
            r.series.iter().map(|p| (p.t_s, p.fds as f64)).collect(),
        ),
        measured(
            format!("threads {}", r.threads_current.unwrap_or(0)),
            Color::Blue,
            r.series.iter().map(|p| (p.t_s, p.threads as f64)).collect(),
        ),
    ];
    if let Some(limit) = criterion_threshold(s, FD_LIMIT) {
        series.push(level(format!("limit {limit:.0}"), Color::Red, limit, x));
    }
    let block = titled(block, area, label_parts(&series, false), &series);
    draw_chart(frame, area, block, &series, x, "", 0.0);
}

fn not_sampled(s: &Snapshot) -> &str {
    if let Some(reason) = &s.resources.unmeasured {
        reason
    } else if s.coldstart.is_some() {
        "cold start: a fresh process per iteration, none watched over time"
    } else {
        "no server process sampled yet"
    }
}
