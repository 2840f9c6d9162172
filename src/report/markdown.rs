//! A summary in Markdown (`--out markdown=FILE`), for a CI job's summary
//! page or a pull request: the verdict, each scenario's phases with their
//! calls and percentiles, its criteria with their values, its notes. Made
//! from the JSON report (`saved.rs`), so a saved or merged report renders
//! it too (`mcpstorm report REPORT.json --out markdown=-`).

use std::fmt::Write;

use super::markup::{iso8601_utc, markdown_cell};
use super::saved::{SavedCalls, SavedReport, SavedScenario};
use super::summary::{ms, percent};

/// Longest text shown in a cell (a tool's name, a note, an error).
const CELL_CHARS: usize = 200;
/// Notes listed per scenario, at most.
const MOST_NOTES: usize = 20;

pub fn render(report: &SavedReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# mcpstorm: {}\n", cell(&report.verdict));
    let mut about = vec![
        format!("target `{}`", code(&report.target.command)),
        format!("started {}", iso8601_utc(report.started_at_unix_s)),
        format!("mcpstorm {}", cell(&report.mcpstorm_version)),
    ];
    if let Some(segment) = &report.segment {
        about.push(match segment.index {
            Some(index) => format!("segment {index} of {}", segment.count),
            None => format!("the {} segments merged", segment.count),
        });
    }
    if report.interrupted {
        about.push("interrupted".to_string());
    }
    let _ = writeln!(out, "{}\n", about.join(" · "));
    for scenario in &report.scenarios {
        scenario_section(&mut out, scenario);
    }
    out
}

fn cell(text: &str) -> String {
    markdown_cell(text, CELL_CHARS)
}

/// Text inside a code span: no backtick can end it early.
fn code(text: &str) -> String {
    crate::protocol::untrusted::quote(text, CELL_CHARS).replace('`', "'")
}

fn scenario_section(out: &mut String, scenario: &SavedScenario) {
    let _ = writeln!(
        out,
        "## {} — {}\n",
        cell(&scenario.name),
        cell(&scenario.verdict)
    );
    if !scenario.description.is_empty() {
        let _ = writeln!(out, "{}\n", cell(&scenario.description));
    }
    for (what, text) in [
        ("error", &scenario.error),
        ("incomplete", &scenario.incomplete),
    ] {
        if let Some(text) = text {
            let _ = writeln!(out, "**{what}**: {}\n", cell(text));
        }
    }
    let Some(result) = &scenario.result else {
        return;
    };
    out.push_str("| phase | load | calls | ok | p50 ms | p95 ms | p99 ms | max ms |\n");
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|\n");
    for phase in &result.phases {
        calls_row(out, &cell(&phase.name), &cell(&phase.load), &phase.calls);
    }
    calls_row(out, "**all**", "", &result.total);
    out.push('\n');
    if !result.criteria.is_empty() {
        out.push_str("| criterion | state | value |\n|---|---|---|\n");
        for criterion in &result.criteria {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                code(&criterion.expression),
                cell(&criterion.state),
                cell(&criterion.detail)
            );
        }
        out.push('\n');
    }
    for note in result.notes.iter().take(MOST_NOTES) {
        let _ = writeln!(out, "- {}", cell(note));
    }
    if result.notes.len() > MOST_NOTES {
        let _ = writeln!(out, "- … {} more notes", result.notes.len() - MOST_NOTES);
    }
    if !result.notes.is_empty() {
        out.push('\n');
    }
}

fn calls_row(out: &mut String, name: &str, load: &str, calls: &SavedCalls) {
    let latency = &calls.latency;
    let shown = |v: Option<f64>| v.map_or_else(|| "–".to_string(), ms);
    let _ = writeln!(
        out,
        "| {name} | {load} | {} | {} | {} | {} | {} | {} |",
        calls.calls,
        percent(calls.success_rate),
        shown(latency.p50_ms),
        shown(latency.p95_ms),
        shown(latency.p99_ms),
        shown(latency.max_ms),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::saved::{SavedCriterion, SavedPhase, SavedResult};

    #[test]
    fn a_report_reads_as_tables_and_server_text_stays_text() {
        let mut report = SavedReport {
            verdict: "FAIL".into(),
            ..SavedReport::default()
        };
        report.target.command = "node `evil` server.js".into();
        let mut result = SavedResult::default();
        let mut phase = SavedPhase {
            name: "load".into(),
            load: "100 calls/s | 10 s".into(),
            ..SavedPhase::default()
        };
        phase.calls.calls = 1000;
        phase.calls.success_rate = Some(0.999);
        phase.calls.latency.p99_ms = Some(12.5);
        result.phases.push(phase);
        result.criteria.push(SavedCriterion {
            expression: "p99 <= 10".into(),
            state: "FAIL".into(),
            detail: "p99 = 12.5 ms".into(),
            ..SavedCriterion::default()
        });
        result
            .notes
            .push("<script>alert(1)</script> **bold**".into());
        report.scenarios.push(SavedScenario {
            name: "steady".into(),
            verdict: "FAIL".into(),
            result: Some(result),
            ..SavedScenario::default()
        });
        let text = render(&report);
        assert!(text.starts_with("# mcpstorm: FAIL\n"), "{text}");
        assert!(text.contains("target `node 'evil' server.js`"), "{text}");
        assert!(text.contains("## steady — FAIL"), "{text}");
        assert!(
            text.contains("| load | 100 calls/s \\| 10 s | 1000 |"),
            "{text}"
        );
        assert!(
            text.contains("| `p99 <= 10` | FAIL | p99 = 12.5 ms |"),
            "{text}"
        );
        assert!(text.contains("\\<script\\>"), "{text}");
        assert!(!text.contains("<script>"), "{text}");
    }
}
