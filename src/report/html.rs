//! The HTML report (`--out html=FILE`): one self-contained file (styles
//! inline, charts as inline SVG, no script, nothing fetched when opened),
//! readable on a phone and printed. For each scenario: its verdict and each
//! criterion with value and limit; latency percentiles and throughput over
//! time with the phases marked and the limits drawn; the server's RSS with
//! its floor and fitted trend, its FDs and threads; outcomes, phases, the
//! per-tool table (with memory kept per call where attributed), the process
//! tree, and the notes. Made from the JSON report (`saved.rs`), so a saved
//! report renders the same file later (`mcpstorm report`).

mod chart;
mod limits;

use std::fmt::Write;

use chart::Chart;

use super::markup::{escape, escape_text, figure, iso8601_utc};
use super::saved::{
    SavedCalls, SavedCriterion, SavedReport, SavedResult, SavedScenario, SavedWindow,
};
use super::summary::{ms, percent};

const STYLE: &str = r#"
:root { --ink: #1d232b; --muted: #5b6673; --line: #d8dee6; --pass: #1f7a3d; --fail: #b3261e; --warn: #8a5a00; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0 auto; max-width: 1000px; padding: 16px; }
h1 { font-size: 1.5em; margin: 0 0 4px; } h2 { font-size: 1.25em; margin: 0; } h3 { font-size: 1.02em; margin: 18px 0 6px; }
header p, .facts { color: var(--muted); margin: 2px 0; }
section.scenario { border-top: 2px solid var(--line); margin-top: 24px; padding-top: 14px; }
.verdict { display: inline-block; font-weight: 700; padding: 1px 8px; border-radius: 4px; color: #fff; margin-left: 8px; font-size: 0.85em; vertical-align: middle; }
.PASS { background: var(--pass); } .FAIL { background: var(--fail); } .ERROR { background: var(--warn); }
.state-PASS { color: var(--pass); font-weight: 600; } .state-FAIL { color: var(--fail); font-weight: 600; } .state-NOT_MEASURED { color: var(--warn); font-weight: 600; }
.warning { color: var(--fail); font-weight: 600; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.detail { color: var(--muted); font-size: 0.9em; }
svg.chart { width: 100%; height: auto; display: block; margin: 4px 0 10px; }
svg .grid { stroke: #eef1f5; } svg .tick, svg .unit, svg .legend, svg .marker-label, svg .limit-label { font-size: 10px; fill: var(--muted); }
svg .s0 { stroke: #2f6fb3; fill: #2f6fb3; } svg .s1 { stroke: #c77c11; fill: #c77c11; } svg .s2 { stroke: #b3261e; fill: #b3261e; } svg .s3 { stroke: #6a4fb3; fill: #6a4fb3; }
svg .floor { stroke: #1f7a3d; fill: #1f7a3d; } svg .trend { stroke: #1d232b; fill: #1d232b; stroke-dasharray: 5 4; }
svg path.line { fill: none; stroke-width: 1.6; stroke-linejoin: round; } svg path.dot { stroke-width: 4; stroke-linecap: round; }
svg rect.key { stroke: none; }
svg .marker { stroke: #9aa5b1; stroke-dasharray: 2 3; } svg .limit { stroke: var(--fail); stroke-dasharray: 6 3; }
pre { background: #f5f7fa; padding: 8px; overflow-x: auto; font-size: 0.85em; white-space: pre-wrap; }
footer { color: var(--muted); font-size: 0.85em; margin-top: 28px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print { body { max-width: none; font-size: 11px; } section.scenario, svg.chart, table { break-inside: avoid; } }
"#;

/// The HTML report of a report.
pub fn render(report: &SavedReport) -> String {
    let mut html =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n");
    let _ = writeln!(
        html,
        "<title>mcpstorm — {} — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        escape(&report.verdict),
        iso8601_utc(report.started_at_unix_s)
    );
    let passed = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == "PASS")
        .count();
    let _ = writeln!(
        html,
        "<header>\n<h1>mcpstorm report <span class=\"verdict {0}\">{0}</span></h1>\n<p>{1} of {2} scenario(s) passed{3} · started {4} UTC</p>\n<p>target: {5} ({6})</p>",
        escape(&report.verdict),
        passed,
        report.scenarios.len(),
        if report.interrupted {
            " · interrupted"
        } else {
            ""
        },
        iso8601_utc(report.started_at_unix_s),
        escape(&report.target.command),
        escape(&report.target.transport),
    );
    if report.target.tls_unverified {
        html.push_str(
            "<p class=\"warning\">--insecure: the server's TLS certificate was not checked</p>\n",
        );
    }
    html.push_str("</header>\n");
    for scenario in &report.scenarios {
        scenario_section(&mut html, scenario);
    }
    let machine = &report.machine;
    let known = |v: Option<String>| v.unwrap_or_else(|| "unknown".into());
    let _ = writeln!(
        html,
        "<footer>mcpstorm {} · machine: {} CPUs, {} MB, {}, kernel {} · schema {}</footer>\n</body>\n</html>",
        escape(&report.mcpstorm_version),
        known(machine.cpus.map(|c| c.to_string())),
        known(machine.memory_mb.map(|m| m.to_string())),
        escape(&known(machine.os.clone())),
        escape(&known(machine.kernel.clone())),
        report.schema_version
    );
    html
}

fn scenario_section(html: &mut String, scenario: &SavedScenario) {
    let _ = writeln!(
        html,
        "<section class=\"scenario\">\n<h2>{} <span class=\"verdict {1}\">{1}</span></h2>",
        escape(&scenario.name),
        escape(&scenario.verdict)
    );
    if !scenario.description.is_empty() {
        let _ = writeln!(html, "<p>{}</p>", escape_text(&scenario.description));
    }
    let mut facts = vec![format!("from {}", scenario.source)];
    if let Some(result) = &scenario.result {
        if let Some(server) = &result.server {
            facts.push(format!(
                "server {} {} · protocol {}",
                server.name, server.version, server.protocol_version
            ));
        }
        facts.extend(result.endpoint.iter().map(|e| format!("at {e}")));
        facts.push(format!("{:.1} s", result.elapsed_s));
    }
    let _ = writeln!(
        html,
        "<p class=\"facts\">{}</p>",
        escape(&facts.join(" · "))
    );
    if let Some(error) = &scenario.error {
        let _ = writeln!(
            html,
            "<p class=\"warning\">could not run: {}</p>",
            escape(error)
        );
    }
    if let Some(incomplete) = &scenario.incomplete {
        let _ = writeln!(
            html,
            "<p class=\"warning\">incomplete: {}</p>",
            escape(incomplete)
        );
    }
    if let Some(result) = &scenario.result {
        criteria_table(html, &result.criteria);
        charts(html, result);
        limits::limits(html, result);
        calls_tables(html, result);
        tree_table(html, result);
        notes(html, result);
    }
    html.push_str("</section>\n");
}

fn criteria_table(html: &mut String, criteria: &[SavedCriterion]) {
    if criteria.is_empty() {
        return;
    }
    html.push_str("<h3>Acceptance criteria</h3>\n<div class=\"scroll\"><table>\n<tr><th>state</th><th>criterion</th><th class=\"num\">value</th><th class=\"num\">limit</th><th>figures</th></tr>\n");
    for c in criteria {
        let about = c
            .about
            .as_deref()
            .map(|a| format!("<br/><span class=\"detail\">{}</span>", escape(a)))
            .unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr class=\"criterion\"><td class=\"state-{0}\">{0}</td><td>{1}{2}</td><td class=\"num\">{3}</td><td class=\"num\">{4}</td><td class=\"detail\">{5}</td></tr>",
            escape(&c.state),
            escape(&c.expression),
            about,
            c.value.map_or("—".into(), figure),
            c.threshold.map_or("—".into(), figure),
            escape(&c.detail)
        );
    }
    html.push_str("</table></div>\n");
}

/// The limits criteria set on a metric whose name starts the expression
/// with one of `metrics` (`p95 <= 20`, `p95(load) <= 20`).
fn limits(criteria: &[SavedCriterion], metrics: &[&str]) -> Vec<(f64, String)> {
    criteria
        .iter()
        .filter(|c| {
            let name: String = c
                .expression
                .chars()
                .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                .collect();
            metrics.contains(&name.as_str())
        })
        .filter_map(|c| Some((c.threshold?, c.expression.clone())))
        .collect()
}

/// Where each phase starts on the run's clock, and when the server
/// crashed, was restarted, or mcpstorm stalled.
fn markers(result: &SavedResult) -> Vec<(f64, String)> {
    let mut at = 0.0;
    let mut markers = Vec::new();
    for phase in &result.phases {
        markers.push((at, phase.name.clone()));
        at += phase.duration_s.max(0.0);
    }
    markers.extend(
        result
            .crashes_at_s
            .iter()
            .map(|&t| (t, "crash".to_string())),
    );
    markers.extend(
        result
            .restarts_at_s
            .iter()
            .map(|&t| (t, "restart".to_string())),
    );
    markers.extend(result.stalls.iter().map(|s| (s.at_s, "stall".to_string())));
    markers
}

/// A latency line: its name, its style, and where a window holds it.
type Percentile = (&'static str, &'static str, fn(&SavedWindow) -> f64);

fn charts(html: &mut String, result: &SavedResult) {
    let markers = markers(result);
    let windows = &result.windows;
    let mut latency = Chart::new("Latency percentiles over time", "ms");
    let percentiles: [Percentile; 3] = [
        ("p50", "s0", |w| w.p50_ms),
        ("p95", "s1", |w| w.p95_ms),
        ("p99", "s2", |w| w.p99_ms),
    ];
    for (name, class, pick) in percentiles {
        latency.line(
            name,
            class,
            windows
                .iter()
                .filter(|w| w.calls > 0)
                .map(|w| (w.t_s, pick(w)))
                .collect(),
        );
    }
    latency.markers = markers.clone();
    latency.limits = limits(
        &result.criteria,
        &["p50", "p90", "p95", "p99", "p999", "max"],
    );
    let mut throughput = Chart::new("Throughput", "calls/s");
    throughput.line(
        "calls/s",
        "s0",
        windows.iter().map(|w| (w.t_s, w.calls_per_s)).collect(),
    );
    throughput.line(
        "errors/s",
        "s2",
        windows
            .iter()
            .map(|w| (w.t_s, w.errors as f64 / w.span_s.max(1e-9)))
            .collect(),
    );
    throughput.markers = markers.clone();
    html.push_str("<h3>Latency and throughput</h3>\n");
    html.push_str(&latency.svg());
    html.push_str(&throughput.svg());
    let resources = &result.resources;
    html.push_str("<h3>The server's process tree</h3>\n");
    if let Some(why) = &resources.unmeasured {
        let _ = writeln!(
            html,
            "<p class=\"detail\">not measured: {}</p>",
            escape(why)
        );
        return;
    }
    let series = &resources.series;
    let mut rss = Chart::new("Resident memory (RSS) of the tree", "MB");
    rss.line(
        "RSS",
        "s0",
        series.iter().map(|p| (p.t_s, p.rss_mb)).collect(),
    );
    rss.line(
        "floor",
        "floor",
        series.iter().map(|p| (p.t_s, p.rss_min_mb)).collect(),
    );
    if let (Some(trend), Some(last)) = (&resources.rss_trend, series.last()) {
        // The fit's slope, drawn over the calls it spanned, ending on the
        // last floor.
        let first_call = last.calls_done as f64 - trend.calls_spanned;
        rss.line(
            format!("trend {:+.2} KB/call", trend.kb_per_call),
            "trend",
            series
                .iter()
                .filter(|p| p.calls_done as f64 >= first_call)
                .map(|p| {
                    let calls_before_end = (last.calls_done - p.calls_done) as f64;
                    (
                        p.t_s,
                        last.rss_min_mb - calls_before_end * trend.kb_per_call / 1024.0,
                    )
                })
                .collect(),
        );
    }
    rss.markers = markers.clone();
    rss.limits = limits(&result.criteria, &["rss_mb", "rss_max_mb"]);
    let mut descriptors = Chart::new("File descriptors and threads", "count");
    descriptors.line(
        "FDs",
        "s0",
        series.iter().map(|p| (p.t_s, f64::from(p.fds))).collect(),
    );
    descriptors.line(
        "threads",
        "s3",
        series
            .iter()
            .map(|p| (p.t_s, f64::from(p.threads)))
            .collect(),
    );
    descriptors.markers = markers;
    descriptors.limits = limits(
        &result.criteria,
        &["fds", "fds_max", "threads", "threads_max"],
    );
    html.push_str(&rss.svg());
    let trend = match (&resources.rss_trend, &resources.rss_trend_settling) {
        (Some(t), settling) => format!(
            "trend {:+.2} KB/call (95 % {:+.2} to {:+.2}), {:+.2} MB per 1,000 calls{}",
            t.kb_per_call,
            t.kb_per_call_low,
            t.kb_per_call_high,
            t.mb_per_1k_calls,
            settling
                .as_deref()
                .map(|s| format!("; not settled: {s}"))
                .unwrap_or_default()
        ),
        (None, _) => "no trend".into(),
    };
    let _ = writeln!(
        html,
        "<p class=\"detail\">RSS growth {} MB over the baseline {} MB (max {} MB) · {}</p>",
        resources
            .rss_growth_mb
            .map_or("—".into(), |g| format!("{g:+.1}")),
        resources
            .rss_baseline_mb
            .map_or("—".into(), |b| format!("{b:.1}")),
        resources
            .rss_max_mb
            .map_or("—".into(), |m| format!("{m:.1}")),
        escape(&trend)
    );
    html.push_str(&descriptors.svg());
}

fn calls_row(name: &str, calls: &SavedCalls, extra: &str) -> String {
    let at = |v: Option<f64>| v.map_or("—".to_string(), ms);
    let latency = &calls.latency;
    format!(
        "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{extra}</tr>\n",
        escape(name),
        calls.calls,
        percent(calls.success_rate),
        at(latency.p50_ms),
        at(latency.p95_ms),
        at(latency.p99_ms),
        at(latency.max_ms),
        calls
            .throughput_per_s
            .map_or("—".to_string(), |r| format!("{r:.0}")),
    )
}

const CALLS_HEAD: &str = "<th class=\"num\">calls</th><th class=\"num\">ok</th><th class=\"num\">p50 ms</th><th class=\"num\">p95 ms</th><th class=\"num\">p99 ms</th><th class=\"num\">max ms</th><th class=\"num\">calls/s</th>";

fn calls_tables(html: &mut String, result: &SavedResult) {
    let _ = writeln!(
        html,
        "<h3>Phases</h3>\n<div class=\"scroll\"><table>\n<tr><th>phase</th>{CALLS_HEAD}</tr>"
    );
    for phase in &result.phases {
        let name = match phase.load.as_str() {
            "" => phase.name.clone(),
            load => format!("{} ({load})", phase.name),
        };
        html.push_str(&calls_row(&name, &phase.calls, ""));
    }
    html.push_str(&calls_row("total", &result.total, ""));
    html.push_str("</table></div>\n");
    let o = &result.total.outcomes;
    let _ = writeln!(
        html,
        "<p class=\"outcomes\">outcomes: ok {} · JSON-RPC error {} · tool error {} · timeout {} · transport error {} · protocol error {}</p>",
        o.ok, o.jsonrpc_error, o.tool_error, o.timeout, o.transport_error, o.protocol_error
    );
    if result.per_label.is_empty() {
        return;
    }
    let kept = &result.resources.retained_by_label;
    let _ = writeln!(
        html,
        "<h3>Per tool and method</h3>\n<div class=\"scroll\"><table>\n<tr><th>tool or method</th>{CALLS_HEAD}<th class=\"num\">kept KB/call</th></tr>"
    );
    for label in &result.per_label {
        let retained =
            kept.iter()
                .find(|k| k.label == label.label)
                .map_or("—".to_string(), |k| {
                    if k.resolved {
                        format!("{:+.2}", k.kb_per_call)
                    } else {
                        format!("{:+.1} to {:+.1}", k.kb_per_call_low, k.kb_per_call_high)
                    }
                });
        let extra = format!("<td class=\"num\">{}</td>", escape(&retained));
        html.push_str(&calls_row(&label.label, &label.calls, &extra));
    }
    html.push_str("</table></div>\n");
}

fn tree_table(html: &mut String, result: &SavedResult) {
    let members = &result.resources.members;
    if members.is_empty() {
        return;
    }
    html.push_str("<h3>Processes</h3>\n<div class=\"scroll\"><table>\n<tr><th>process</th><th class=\"num\">pid</th><th class=\"num\">RSS MB</th><th class=\"num\">share</th><th class=\"num\">growth MB</th></tr>\n");
    for member in members.iter().take(64) {
        let _ = writeln!(
            html,
            "<tr><td>{}{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.0} %</td><td class=\"num\">{}</td></tr>",
            "· ".repeat(member.depth.min(8) as usize),
            escape(&member.name),
            member.pid,
            member.rss_mb,
            member.rss_share * 100.0,
            member
                .rss_growth_mb
                .map_or("—".into(), |g| format!("{g:+.1}"))
        );
    }
    html.push_str("</table></div>\n");
}

fn notes(html: &mut String, result: &SavedResult) {
    let mut lines: Vec<String> = result.notes.clone();
    lines.extend(result.stalls.iter().map(|s| {
        format!(
            "mcpstorm stalled at {:.1} s for {:.2} s",
            s.at_s, s.lasted_s
        )
    }));
    lines.extend(result.control_changes.iter().map(|c| {
        if c.paused {
            format!("paused at {:.1} s", c.at_s)
        } else {
            format!("load ×{:.2} from {:.1} s", c.load_scale, c.at_s)
        }
    }));
    if !lines.is_empty() {
        html.push_str("<h3>Notes</h3>\n<ul>\n");
        for line in &lines {
            let _ = writeln!(html, "<li>{}</li>", escape(line));
        }
        html.push_str("</ul>\n");
    }
    for (title, text) in [
        ("Last errors", &result.recent_errors),
        ("The server's last stderr lines", &result.stderr_tail),
    ] {
        if !text.is_empty() {
            let _ = writeln!(
                html,
                "<h3>{title}</h3>\n<pre>{}</pre>",
                escape_text(&text.join("\n"))
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::saved::{SavedProbe, SavedResources};

    #[test]
    fn a_report_renders_its_criteria_charts_and_limits_with_text_escaped() {
        let window = |t: f64, p95: f64| SavedWindow {
            t_s: t,
            span_s: 1.0,
            calls: 10,
            p50_ms: 1.0,
            p95_ms: p95,
            p99_ms: p95 * 2.0,
            calls_per_s: 10.0,
            ..SavedWindow::default()
        };
        let probe = |t: f64, rss: f64| SavedProbe {
            t_s: t,
            calls_done: (t * 10.0) as u64,
            rss_mb: rss,
            rss_min_mb: rss - 1.0,
            fds: 12,
            threads: 3,
            ..SavedProbe::default()
        };
        let report = SavedReport {
            verdict: "FAIL".into(),
            scenarios: vec![SavedScenario {
                name: "<script>alert(1)</script>".into(),
                verdict: "FAIL".into(),
                result: Some(SavedResult {
                    windows: vec![window(1.0, 3.0), window(2.0, 5.0)],
                    resources: SavedResources {
                        series: vec![probe(1.0, 20.0), probe(2.0, 22.0)],
                        ..SavedResources::default()
                    },
                    criteria: vec![SavedCriterion {
                        expression: "p95 <= 4".into(),
                        state: "FAIL".into(),
                        value: Some(5.0),
                        threshold: Some(4.0),
                        detail: "p95 = 5 ms".into(),
                        about: Some("fast & \"small\"".into()),
                    }],
                    ..SavedResult::default()
                }),
                ..SavedScenario::default()
            }],
            ..SavedReport::default()
        };
        let html = render(&report);
        assert!(!html.contains("<script>"), "markup from outside escaped");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("<td class=\"state-FAIL\">FAIL</td><td>p95 &lt;= 4<br/><span class=\"detail\">fast &amp; &quot;small&quot;</span></td><td class=\"num\">5</td><td class=\"num\">4</td>"), "{html}");
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 4, "{html}");
        assert!(
            html.contains("<text class=\"limit-label\""),
            "the p95 limit is drawn"
        );
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
