//! A snapshot as Prometheus text exposition (format 0.0.4): the metric names
//! follow Prometheus' conventions (`mcpstorm_` prefix, `_total` counters,
//! base units: seconds and bytes), and latency is a summary whose quantiles
//! are the run's own HdrHistogram figures, exact rather than bucketed.

use std::fmt::Write;

use crate::acceptance::CriterionState;
use crate::stats::{CallStats, Snapshot};

/// The exposition being written, and the label every sample carries
/// first, if any (`--segment`'s `segment="I/N"`, so that one Prometheus
/// scraping every segment tells them apart and sums them).
struct Out<'s> {
    text: String,
    constant: Option<(&'static str, &'s str)>,
}

/// One metric family being written: its samples follow its `HELP` and
/// `TYPE` lines.
struct Family<'a, 's> {
    out: &'a mut Out<'s>,
}

impl<'a, 's> Family<'a, 's> {
    fn new(out: &'a mut Out<'s>, name: &str, kind: &str, help: &str) -> Family<'a, 's> {
        let _ = writeln!(out.text, "# HELP {name} {help}");
        let _ = writeln!(out.text, "# TYPE {name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        if !value.is_finite() {
            return;
        }
        let text = &mut self.out.text;
        text.push_str(name);
        let all: Vec<&(&str, &str)> = self.out.constant.iter().chain(labels).collect();
        if !all.is_empty() {
            text.push('{');
            for (index, (key, value)) in all.into_iter().enumerate() {
                if index > 0 {
                    text.push(',');
                }
                let _ = write!(text, "{key}=\"{}\"", label_value(value));
            }
            text.push('}');
        }
        let _ = writeln!(text, " {value}");
    }
}

/// A label value as the format quotes it: backslash, double quote and line
/// feed escaped; bounded, as a tool's name comes from the server.
fn label_value(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len().min(256));
    for c in text.chars().take(200) {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c if c.is_control() => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    escaped
}

const MB: f64 = 1024.0 * 1024.0;

/// Every metric of the scenario a snapshot shows (nothing before the
/// first scenario starts), each sample labelled `segment` first when given.
pub fn render(snapshot: &Snapshot, segment: Option<&str>) -> String {
    let mut out = Out {
        text: String::new(),
        constant: segment.map(|segment| ("segment", segment)),
    };
    if snapshot.scenario.is_empty() {
        return out.text;
    }
    let scenario = snapshot.scenario.as_str();
    let server = snapshot.server.as_ref();
    {
        let mut info = Family::new(
            &mut out,
            "mcpstorm_scenario_info",
            "gauge",
            "The scenario running, and the server and protocol it speaks to (always 1).",
        );
        info.sample(
            "mcpstorm_scenario_info",
            &[
                ("scenario", scenario),
                ("server", server.map_or("", |s| s.name.as_str())),
                ("server_version", server.map_or("", |s| s.version.as_str())),
                (
                    "protocol_version",
                    server.map_or("", |s| s.protocol_version.as_str()),
                ),
            ],
            1.0,
        );
    }
    Family::new(
        &mut out,
        "mcpstorm_scenario_elapsed_seconds",
        "gauge",
        "How long the scenario has run.",
    )
    .sample(
        "mcpstorm_scenario_elapsed_seconds",
        &[("scenario", scenario)],
        snapshot.elapsed_s,
    );
    calls(&mut out, snapshot);
    latency(&mut out, snapshot);
    load(&mut out, snapshot);
    server_tree(&mut out, snapshot);
    criteria(&mut out, snapshot);
    out.text
}

fn calls(out: &mut Out<'_>, snapshot: &Snapshot) {
    let scenario = snapshot.scenario.as_str();
    let mut family = Family::new(
        out,
        "mcpstorm_calls_total",
        "counter",
        "Calls completed, by tool or method and outcome.",
    );
    for label in &snapshot.per_label {
        let o = &label.stats.outcomes;
        for (outcome, count) in [
            ("ok", o.ok),
            ("jsonrpc_error", o.jsonrpc_error),
            ("tool_error", o.tool_error),
            ("timeout", o.timeout),
            ("transport_error", o.transport_error),
            ("protocol_error", o.protocol_error),
        ] {
            family.sample(
                "mcpstorm_calls_total",
                &[
                    ("scenario", scenario),
                    ("label", &label.label),
                    ("outcome", outcome),
                ],
                count as f64,
            );
        }
    }
}

/// One summary's samples: its quantiles, sum and count, in seconds.
fn summary(family: &mut Family, name: &str, labels: &[(&str, &str)], stats: &CallStats) {
    let Some(latency) = &stats.latency else {
        return;
    };
    for (quantile, ms) in [
        ("0.5", latency.p50_ms),
        ("0.9", latency.p90_ms),
        ("0.95", latency.p95_ms),
        ("0.99", latency.p99_ms),
        ("0.999", latency.p999_ms),
        ("1", latency.max_ms),
    ] {
        let mut with_quantile = labels.to_vec();
        with_quantile.push(("quantile", quantile));
        family.sample(name, &with_quantile, ms / 1000.0);
    }
    family.sample(
        &format!("{name}_sum"),
        labels,
        latency.mean_ms * latency.count as f64 / 1000.0,
    );
    family.sample(&format!("{name}_count"), labels, latency.count as f64);
}

fn latency(out: &mut Out<'_>, snapshot: &Snapshot) {
    let scenario = snapshot.scenario.as_str();
    let mut family = Family::new(
        out,
        "mcpstorm_call_duration_seconds",
        "summary",
        "Latency of the calls that were answered, by tool or method (HdrHistogram quantiles).",
    );
    for label in &snapshot.per_label {
        summary(
            &mut family,
            "mcpstorm_call_duration_seconds",
            &[("scenario", scenario), ("label", &label.label)],
            &label.stats,
        );
    }
    let mut family = Family::new(
        out,
        "mcpstorm_scenario_call_duration_seconds",
        "summary",
        "Latency of every call of the scenario that was answered (HdrHistogram quantiles).",
    );
    summary(
        &mut family,
        "mcpstorm_scenario_call_duration_seconds",
        &[("scenario", scenario)],
        &snapshot.total,
    );
}

fn load(out: &mut Out<'_>, snapshot: &Snapshot) {
    let scenario = snapshot.scenario.as_str();
    let mut family = Family::new(
        out,
        "mcpstorm_late_sends_total",
        "counter",
        "Calls of an open load model sent later than planned (the load generator fell behind).",
    );
    for phase in &snapshot.phases {
        family.sample(
            "mcpstorm_late_sends_total",
            &[("scenario", scenario), ("phase", &phase.name)],
            phase.late_sends as f64,
        );
    }
    Family::new(
        out,
        "mcpstorm_in_flight_calls",
        "gauge",
        "Calls sent and not yet answered.",
    )
    .sample(
        "mcpstorm_in_flight_calls",
        &[("scenario", scenario)],
        snapshot.wire.in_flight as f64,
    );
    Family::new(
        out,
        "mcpstorm_server_crashes_total",
        "counter",
        "Times the server exited mid-run.",
    )
    .sample(
        "mcpstorm_server_crashes_total",
        &[("scenario", scenario)],
        snapshot.crashes as f64,
    );
}

fn server_tree(out: &mut Out<'_>, snapshot: &Snapshot) {
    let scenario = [("scenario", snapshot.scenario.as_str())];
    let r = &snapshot.resources;
    let gauges: [(&str, &str, Option<f64>); 8] = [
        (
            "mcpstorm_server_resident_memory_bytes",
            "Resident memory of the server's process tree.",
            r.rss_current_mb.map(|mb| mb * MB),
        ),
        (
            "mcpstorm_server_resident_memory_growth_bytes",
            "The tree's memory floor now above its baseline (a sawtooth's troughs, not its peaks).",
            r.rss_growth_mb.map(|mb| mb * MB),
        ),
        (
            "mcpstorm_server_retained_bytes_per_call",
            "Memory the server keeps per call: the slope of its floor's fit.",
            r.rss_trend.as_ref().map(|t| t.kb_per_call * 1024.0),
        ),
        (
            "mcpstorm_server_open_fds",
            "Open file descriptors of the server's process tree.",
            r.fds_current.map(f64::from),
        ),
        (
            "mcpstorm_server_threads",
            "Threads of the server's process tree.",
            r.threads_current.map(f64::from),
        ),
        (
            "mcpstorm_server_cpu_ratio",
            "CPU the server's tree used, in cores (1 = one core busy).",
            r.cpu_percent.map(|p| p / 100.0),
        ),
        (
            "mcpstorm_self_resident_memory_bytes",
            "mcpstorm's own resident memory.",
            r.self_rss_mb.map(|mb| mb * MB),
        ),
        (
            "mcpstorm_self_cpu_ratio",
            "CPU mcpstorm itself used, in cores.",
            r.self_cpu_percent.map(|p| p / 100.0),
        ),
    ];
    for (name, help, value) in gauges {
        let Some(value) = value else { continue };
        Family::new(out, name, "gauge", help).sample(name, &scenario, value);
    }
}

fn criteria(out: &mut Out<'_>, snapshot: &Snapshot) {
    let scenario = snapshot.scenario.as_str();
    let mut family = Family::new(
        out,
        "mcpstorm_criterion_passing",
        "gauge",
        "An acceptance criterion holds now (1) or not (0); `state` says how settled.",
    );
    for c in &snapshot.criteria {
        let passing = matches!(c.state, CriterionState::Pass | CriterionState::Passing);
        family.sample(
            "mcpstorm_criterion_passing",
            &[
                ("scenario", scenario),
                ("criterion", &c.expression),
                ("state", c.state.word()),
            ],
            if passing { 1.0 } else { 0.0 },
        );
    }
    for (name, help, pick) in [
        (
            "mcpstorm_criterion_value",
            "The value a criterion reads.",
            (|c: &crate::stats::CriterionStatus| c.value) as fn(&_) -> Option<f64>,
        ),
        (
            "mcpstorm_criterion_threshold",
            "The limit a criterion compares its value with.",
            |c| c.threshold,
        ),
    ] {
        let mut family = Family::new(out, name, "gauge", help);
        for c in &snapshot.criteria {
            if let Some(value) = pick(c) {
                family.sample(
                    name,
                    &[("scenario", scenario), ("criterion", &c.expression)],
                    value,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_bounded() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(label_value(&"x".repeat(500)).len(), 200);
        assert_eq!(label_value("\u{1}"), "\u{FFFD}");
    }

    #[test]
    fn nothing_is_shown_before_a_scenario_starts() {
        assert_eq!(render(&Snapshot::default(), None), "");
    }

    #[test]
    fn a_segment_label_goes_first_on_every_sample_and_nowhere_else() {
        let mut snapshot = Snapshot {
            scenario: "x {y}".into(),
            ..Snapshot::default()
        };
        snapshot.total.calls = 3;
        snapshot.total.outcomes.ok = 3;
        let plain = render(&snapshot, None);
        let labelled = render(&snapshot, Some("2/4"));
        let (plain, labelled): (Vec<&str>, Vec<&str>) =
            (plain.lines().collect(), labelled.lines().collect());
        assert_eq!(plain.len(), labelled.len());
        let mut unlabelled_samples = 0;
        for (plain, labelled) in plain.iter().zip(&labelled) {
            if plain.starts_with('#') {
                assert_eq!(plain, labelled);
                continue;
            }
            // The name ends at the first `{` or space.
            let end = plain.find(['{', ' ']).unwrap();
            let (name, rest) = plain.split_at(end);
            let expected = match rest.strip_prefix('{') {
                Some(labels) => format!("{name}{{segment=\"2/4\",{labels}"),
                None => {
                    unlabelled_samples += 1;
                    format!("{name}{{segment=\"2/4\"}}{rest}")
                }
            };
            assert_eq!(*labelled, expected);
        }
        assert!(plain.iter().any(|l| l.contains("scenario=\"x {y}\"")));
        // Every sample render writes has a scenario; one without labels
        // gets the segment alone.
        assert_eq!(unlabelled_samples, 0);
        let mut out = Out {
            text: String::new(),
            constant: Some(("segment", "2/4")),
        };
        Family::new(&mut out, "a_total", "counter", "calls").sample("a_total", &[], 3.0);
        assert_eq!(
            out.text,
            "# HELP a_total calls\n# TYPE a_total counter\na_total{segment=\"2/4\"} 3\n"
        );
    }
}
