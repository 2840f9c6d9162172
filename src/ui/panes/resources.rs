//! The server's resources over the run: the memory pane (RSS, its baseline
//! and limit, the floor and the trend fitted to it) and the descriptor pane
//! (FDs and threads, their limit), with the run's marks.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Block;

use super::chart::{
    Kind, Scale, Series, draw_chart, label_parts, level, measured, moments, reference, run_time,
    short_number, signed_short, titled, waiting,
};
use super::title::Part;
use super::{FD_LIMIT, RSS_GROWTH_LIMIT, criterion_threshold};
use crate::stats::trend::retained_floor;
use crate::stats::{ProbePoint, ResourceSnapshot, Snapshot};

/// What the trend is fitted to, drawn under RSS: the floor from the
/// baseline on (at each sample, the lowest RSS the server goes back to
/// later) and the fitted line through it (the trend's slope per call, laid
/// over the calls made by each sample), from the floor where the fit
/// starts: the baseline, or the later half's first call when the trend is
/// the later half's.
fn trend_evidence(r: &ResourceSnapshot) -> Vec<Series> {
    let Some(since) = r.baseline_at_s else {
        return Vec::new();
    };
    let after: Vec<_> = r.series.iter().filter(|p| p.t_s >= since).collect();
    let lows: Vec<f64> = after.iter().map(|p| p.rss_min_mb).collect();
    let floor = retained_floor(&lows);
    let mut evidence = vec![reference(
        "floor".into(),
        Color::Yellow,
        after
            .iter()
            .map(|p| p.t_s)
            .zip(floor.iter().copied())
            .collect(),
    )];
    if let Some(trend) = &r.rss_trend {
        let from_calls = trend.later_half.map_or(0.0, |half| half.from_calls);
        let start = after.partition_point(|p| (p.rss_min_calls as f64) < from_calls);
        if let (Some(first), Some(&base)) = (after.get(start), floor.get(start)) {
            let mb_per_call = trend.kb_per_call / 1024.0;
            let calls_at =
                |p: &&ProbePoint| p.rss_min_calls.saturating_sub(first.rss_min_calls) as f64;
            evidence.push(reference(
                "fit".into(),
                Color::Magenta,
                after[start..]
                    .iter()
                    .map(|p| (p.t_s, base + mb_per_call * calls_at(p)))
                    .collect(),
            ));
        }
    }
    evidence
}

pub fn memory(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot, monochrome: bool) {
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
                if t.later_half.is_some() {
                    // The rate changed: the figure is the later half's.
                    trend.push(Part::plain("later half").or("2nd half"));
                }
                if let Some(steady) = t.steady_for_s {
                    trend.push(Part::plain(format!("steady {steady:.0} s")));
                }
            }
        }
        None => trend.push(Part::plain("trend pending")),
    }
    let x = run_time(s);
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
    series.extend(moments(s));
    let mut top = label_parts(&series, &[Kind::Measured]);
    if let Some(first) = top.first_mut() {
        *first = std::mem::take(first).or(short);
    }
    top.extend(trend);
    let block = titled(block, area, top, Vec::new(), &series);
    let scale = Scale::Linear {
        floor: (floor * 0.9).floor(),
    };
    draw_chart(frame, area, block, &series, x, scale, monochrome);
}

pub fn fds(frame: &mut Frame, area: Rect, block: Block, s: &Snapshot, monochrome: bool) {
    let r = &s.resources;
    if !r.sampled || r.series.is_empty() {
        return waiting(frame, area, block, not_sampled(s));
    }
    let x = run_time(s);
    let mut series = vec![
        Series {
            tag: Some("fds"),
            ..measured(
                format!(
                    "FDs {} (max {})",
                    r.fds_current.unwrap_or(0),
                    r.fds_max.unwrap_or(0)
                ),
                Color::Green,
                r.series.iter().map(|p| (p.t_s, p.fds as f64)).collect(),
            )
        },
        Series {
            tag: Some("thr"),
            ..measured(
                format!("threads {}", r.threads_current.unwrap_or(0)),
                Color::Blue,
                r.series.iter().map(|p| (p.t_s, p.threads as f64)).collect(),
            )
        },
    ];
    if let Some(limit) = criterion_threshold(s, FD_LIMIT) {
        series.push(level(format!("limit {limit:.0}"), Color::Red, limit, x));
    }
    series.extend(moments(s));
    let mut top = label_parts(&series, &[Kind::Measured]);
    if let Some(first) = top.first_mut() {
        *first = std::mem::take(first).or(format!("FDs {}", r.fds_current.unwrap_or(0)));
    }
    let block = titled(block, area, top, Vec::new(), &series);
    let scale = Scale::Linear { floor: 0.0 };
    draw_chart(frame, area, block, &series, x, scale, monochrome);
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
