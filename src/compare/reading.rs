//! What one run says of a part: each metric's value, with the 95 % interval
//! that one run can give where there is one. `mod.rs` sets the readings of
//! the runs of either side against each other.

use super::Unit;
use super::noise::{Distribution, Interval, proportion_interval};
use crate::report::saved::{SavedCalls, SavedPhaseMemory, SavedResult, SavedTrend};

/// Which noise floor a metric's changes are held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floor {
    /// A fraction of the base (latency: runs drift apart by a few per cent).
    Latency,
    /// KB a call (memory kept per call: the floor fit's resolution).
    Memory,
    None,
}

/// One run's reading of a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub value: f64,
    /// The value's 95 % interval from this run alone, when it has one.
    pub interval: Option<Interval>,
    /// A memory trend not settled in this run.
    pub unsettled: bool,
    /// Memory kept per call: the smallest change this run can show, KB a
    /// call (RSS moves by whole allocator chunks: see `RSS_GRAIN_KB`).
    pub grain_kb_per_call: f64,
}

/// How far a healthy server's RSS moves in one step for no call's sake: an
/// allocator's arena or a runtime's stack grows by 128 KB to 1 MB at once.
/// A trend over few calls cannot tell a change smaller than this spread over
/// them.
const RSS_GRAIN_KB: f64 = 1024.0;

/// The grain of a per-call memory figure fitted over `calls`.
fn grain(calls: f64) -> f64 {
    if calls > 0.0 {
        RSS_GRAIN_KB / calls
    } else {
        f64::INFINITY
    }
}

impl Reading {
    fn bare(value: f64) -> Reading {
        Reading {
            value,
            interval: None,
            unsettled: false,
            grain_kb_per_call: 0.0,
        }
    }
}

/// A metric of one part in one run (the reading absent when the run has no
/// figure for it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricReading {
    pub metric: &'static str,
    pub unit: Unit,
    pub floor: Floor,
    pub reading: Option<Reading>,
}

fn metric(
    metric: &'static str,
    unit: Unit,
    floor: Floor,
    reading: Option<Reading>,
) -> MetricReading {
    MetricReading {
        metric,
        unit,
        floor,
        reading,
    }
}

/// The latency percentiles tested on the histograms: name and quantile.
pub const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
];

/// A set of calls' readings: latency, throughput, success.
pub fn of_calls(calls: &SavedCalls) -> Vec<MetricReading> {
    let mut readings = Vec::new();
    let histogram = Distribution::from_buckets(&calls.latency_histogram_us);
    for (name, q) in PERCENTILES {
        let reading = match &histogram {
            Some(h) => Some(Reading {
                value: h.quantile_ms(q),
                interval: Some(h.quantile_interval_ms(q)),
                unsettled: false,
                grain_kb_per_call: 0.0,
            }),
            // A report without its histogram: the figure, untested.
            None => match name {
                "p50" => calls.latency.p50_ms,
                "p90" => calls.latency.p90_ms,
                "p95" => calls.latency.p95_ms,
                "p99" => calls.latency.p99_ms,
                _ => calls.latency.p999_ms,
            }
            .map(Reading::bare),
        };
        readings.push(metric(name, Unit::Ms, Floor::Latency, reading));
    }
    let mean = calls.latency.mean_ms.map(|mean| Reading {
        value: mean,
        interval: mean_interval(calls),
        unsettled: false,
        grain_kb_per_call: 0.0,
    });
    readings.push(metric("mean", Unit::Ms, Floor::Latency, mean));
    readings.push(metric(
        "max",
        Unit::Ms,
        Floor::None,
        calls.latency.max_ms.map(Reading::bare),
    ));
    readings.push(metric(
        "throughput",
        Unit::PerSecond,
        Floor::None,
        calls.throughput_per_s.map(Reading::bare),
    ));
    let errors = calls.calls.saturating_sub(calls.outcomes.ok);
    for (name, counted) in [("success_rate", calls.outcomes.ok), ("error_rate", errors)] {
        let rate = (calls.calls > 0).then(|| Reading {
            value: counted as f64 / calls.calls as f64,
            interval: proportion_interval(counted, calls.calls),
            unsettled: false,
            grain_kb_per_call: 0.0,
        });
        readings.push(metric(name, Unit::Fraction, Floor::None, rate));
    }
    readings.push(metric(
        "errors",
        Unit::Count,
        Floor::None,
        Some(Reading::bare(errors as f64)),
    ));
    readings
}

/// The mean's 95 % interval from the saved mean, deviation and count.
fn mean_interval(calls: &SavedCalls) -> Option<Interval> {
    let (mean, stddev) = (calls.latency.mean_ms?, calls.latency.stddev_ms?);
    let n = calls.latency.count;
    (n >= 2).then(|| {
        let half = 1.959_964 * stddev / (n as f64).sqrt();
        Interval {
            low: mean - half,
            high: mean + half,
        }
    })
}

/// Memory kept per call, with the fit's interval.
fn trend(trend: &Option<SavedTrend>, unsettled: bool) -> MetricReading {
    metric(
        "rss_trend_kb_per_call",
        Unit::KbPerCall,
        Floor::Memory,
        trend.as_ref().map(|t| Reading {
            value: t.kb_per_call,
            interval: Some(Interval {
                low: t.kb_per_call_low,
                high: t.kb_per_call_high,
            }),
            unsettled,
            grain_kb_per_call: grain(t.calls_spanned),
        }),
    )
}

/// The server's resources over the whole run (none when unmeasured).
pub fn of_resources(result: &SavedResult) -> Vec<MetricReading> {
    let r = &result.resources;
    if r.unmeasured.is_some() {
        return Vec::new();
    }
    let read = |v: Option<f64>| v.map(Reading::bare);
    let count = |v: Option<u64>| v.map(|v| Reading::bare(v as f64));
    vec![
        trend(&r.rss_trend, r.rss_trend_settling.is_some()),
        metric(
            "rss_growth_mb",
            Unit::Mb,
            Floor::None,
            read(r.rss_growth_mb),
        ),
        metric("rss_max_mb", Unit::Mb, Floor::None, read(r.rss_max_mb)),
        metric("fd_max", Unit::Count, Floor::None, count(r.fds_max)),
        metric(
            "threads_max",
            Unit::Count,
            Floor::None,
            count(r.threads_max),
        ),
        metric(
            "processes_max",
            Unit::Count,
            Floor::None,
            count(r.processes_max),
        ),
    ]
}

/// A phase's own memory figures.
pub fn of_phase_memory(memory: &Option<SavedPhaseMemory>) -> Vec<MetricReading> {
    let Some(m) = memory else {
        return Vec::new();
    };
    vec![
        trend(&m.rss_trend, m.rss_trend_settling.is_some()),
        metric(
            "rss_growth_mb",
            Unit::Mb,
            Floor::None,
            m.rss_growth_mb.map(Reading::bare),
        ),
    ]
}

/// One tool's memory kept per call, where the run attributed it (`calls`:
/// the tool's).
pub fn of_tool_memory(result: &SavedResult, label: &str, calls: u64) -> Vec<MetricReading> {
    let unsettled = result.resources.rss_trend_settling.is_some();
    result
        .resources
        .retained_by_label
        .iter()
        .find(|r| r.label == label)
        .map(|r| {
            metric(
                "rss_kb_per_call",
                Unit::KbPerCall,
                Floor::Memory,
                Some(Reading {
                    value: r.kb_per_call,
                    interval: Some(Interval {
                        low: r.kb_per_call_low,
                        high: r.kb_per_call_high,
                    }),
                    unsettled,
                    grain_kb_per_call: grain(calls as f64),
                }),
            )
        })
        .into_iter()
        .collect()
}
