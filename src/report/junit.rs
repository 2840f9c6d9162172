//! JUnit XML (`--out junit=FILE`), as CI systems show test results: each
//! scenario a `testsuite`, each acceptance criterion a `testcase` (failed
//! with its value and limit, skipped when it could not be measured), and
//! one `testcase` for the run itself (an error when the scenario could not
//! run, a failure when it did not run to its end). The target, protocol and
//! server are the suite's properties; its figures are its `system-out`.
//! Made from the JSON report (`saved.rs`), so a saved report renders the
//! same file later (`mcpstorm report`).

use std::fmt::Write;

use super::markup::{escape, escape_text, figure, iso8601_utc};
use super::saved::{SavedCalls, SavedCriterion, SavedReport, SavedScenario};
use super::summary::{ms, percent};

/// The JUnit XML of a report.
pub fn render(report: &SavedReport) -> String {
    let suites: Vec<Suite> = report
        .scenarios
        .iter()
        .map(|scenario| Suite::of(scenario, report))
        .collect();
    let total = |count: fn(&Suite) -> usize| suites.iter().map(count).sum::<usize>();
    let time: f64 = suites.iter().map(|s| s.time_s).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"mcpstorm\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.3}\" timestamp=\"{}\">",
        total(|s| s.cases.len()),
        total(|s| s.count(Outcome::is_failure)),
        total(|s| s.count(Outcome::is_error)),
        total(|s| s.count(Outcome::is_skipped)),
        iso8601_utc(report.started_at_unix_s),
    );
    for suite in &suites {
        suite.write(&mut xml, report.started_at_unix_s);
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// How a test case ended.
enum Outcome {
    Passed,
    Failed {
        message: String,
        kind: &'static str,
        text: String,
    },
    Error {
        message: String,
    },
    Skipped {
        message: String,
    },
}

impl Outcome {
    fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
    fn is_error(&self) -> bool {
        matches!(self, Outcome::Error { .. })
    }
    fn is_skipped(&self) -> bool {
        matches!(self, Outcome::Skipped { .. })
    }
}

struct Case {
    name: String,
    time_s: f64,
    outcome: Outcome,
}

struct Suite {
    name: String,
    time_s: f64,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
    out: String,
}

/// The name of the test case for the run itself.
const RUN_CASE: &str = "the run completes";

impl Suite {
    fn of(scenario: &SavedScenario, report: &SavedReport) -> Suite {
        let result = scenario.result.as_ref();
        let time_s = result.map_or(0.0, |r| r.elapsed_s.max(0.0));
        let mut properties = vec![
            ("mcpstorm_version", report.mcpstorm_version.clone()),
            ("target", report.target.command.clone()),
            ("transport", report.target.transport.clone()),
            ("source", scenario.source.clone()),
            ("verdict", scenario.verdict.clone()),
        ];
        if let Some(result) = result {
            properties.extend(result.endpoint.clone().map(|e| ("endpoint", e)));
            if let Some(server) = &result.server {
                properties.push(("server", format!("{} {}", server.name, server.version)));
                properties.push(("protocol_version", server.protocol_version.clone()));
            }
        }
        if report.target.tls_unverified {
            properties.push(("tls_unverified", "true".into()));
        }
        let run = match (&scenario.error, &scenario.incomplete) {
            (Some(error), _) => Outcome::Error {
                message: error.clone(),
            },
            (None, Some(incomplete)) => Outcome::Failed {
                message: format!("incomplete: {incomplete}"),
                kind: "incomplete",
                text: String::new(),
            },
            (None, None) => Outcome::Passed,
        };
        let mut cases = vec![Case {
            name: RUN_CASE.into(),
            time_s,
            outcome: run,
        }];
        cases.extend(result.into_iter().flat_map(|r| &r.criteria).map(|c| Case {
            name: c.expression.clone(),
            time_s: 0.0,
            outcome: criterion_outcome(c),
        }));
        Suite {
            name: scenario.name.clone(),
            time_s,
            properties,
            cases,
            out: figures(scenario),
        }
    }

    fn count(&self, which: fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| which(&c.outcome)).count()
    }

    fn write(&self, xml: &mut String, started_at_unix_s: u64) {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{}\">",
            escape(&self.name),
            self.cases.len(),
            self.count(Outcome::is_failure),
            self.count(Outcome::is_error),
            self.count(Outcome::is_skipped),
            self.time_s,
            iso8601_utc(started_at_unix_s),
        );
        xml.push_str("    <properties>\n");
        for (name, value) in &self.properties {
            let _ = writeln!(
                xml,
                "      <property name=\"{name}\" value=\"{}\"/>",
                escape(value)
            );
        }
        xml.push_str("    </properties>\n");
        let classname = escape(&format!("mcpstorm.{}", self.name));
        for case in &self.cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"{classname}\" name=\"{}\" time=\"{:.3}\"",
                escape(&case.name),
                case.time_s
            );
            match &case.outcome {
                Outcome::Passed => xml.push_str("/>\n"),
                Outcome::Failed {
                    message,
                    kind,
                    text,
                } => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>",
                        escape(message),
                        escape_text(text)
                    );
                }
                Outcome::Error { message } => {
                    let _ = writeln!(
                        xml,
                        ">\n      <error message=\"{}\" type=\"setup\"/>\n    </testcase>",
                        escape(message)
                    );
                }
                Outcome::Skipped { message } => {
                    let _ = writeln!(
                        xml,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(message)
                    );
                }
            }
        }
        let _ = writeln!(
            xml,
            "    <system-out>{}</system-out>",
            escape_text(&self.out)
        );
        xml.push_str("  </testsuite>\n");
    }
}

/// A criterion's end as a test case's: failed with its value and limit,
/// skipped when it could not be measured.
fn criterion_outcome(criterion: &SavedCriterion) -> Outcome {
    let about = criterion
        .about
        .as_deref()
        .map(|about| format!("\n{about}"))
        .unwrap_or_default();
    match criterion.state.as_str() {
        "PASS" => Outcome::Passed,
        "NOT_MEASURED" => Outcome::Skipped {
            message: format!("not measured: {}", criterion.detail),
        },
        state => Outcome::Failed {
            message: match (criterion.value, criterion.threshold, state) {
                (Some(value), Some(limit), "FAIL") => format!(
                    "{}: {} against {}",
                    criterion.expression,
                    figure(value),
                    figure(limit)
                ),
                (_, _, "FAIL") => format!("{}: failed", criterion.expression),
                _ => format!("{}: {state} when the run ended", criterion.expression),
            },
            kind: "criterion",
            text: format!("{}{about}", criterion.detail),
        },
    }
}

/// The scenario's figures for the suite's `system-out`: the calls of each
/// phase and in all, the server's memory, the notes.
fn figures(scenario: &SavedScenario) -> String {
    let mut out = format!("{} — {}\n", scenario.name, scenario.verdict);
    let Some(result) = &scenario.result else {
        return out;
    };
    let calls = |name: &str, load: &str, c: &SavedCalls| {
        let latency = &c.latency;
        let at = |v: Option<f64>| v.map_or("—".to_string(), ms);
        format!(
            "{name}{load}: {} calls · ok {} · p50 {} · p95 {} · p99 {} · max {} ms · {} calls/s\n",
            c.calls,
            percent(c.success_rate),
            at(latency.p50_ms),
            at(latency.p95_ms),
            at(latency.p99_ms),
            at(latency.max_ms),
            c.throughput_per_s
                .map_or("—".to_string(), |r| format!("{r:.0}")),
        )
    };
    for phase in &result.phases {
        let load = match phase.load.as_str() {
            "" => String::new(),
            load => format!(" ({load})"),
        };
        out.push_str(&calls(&phase.name, &load, &phase.calls));
    }
    out.push_str(&calls("total", "", &result.total));
    let resources = &result.resources;
    match (&resources.unmeasured, resources.rss_growth_mb) {
        (Some(why), _) => {
            let _ = writeln!(out, "server: not measured: {why}");
        }
        (None, Some(growth)) => {
            let _ = writeln!(
                out,
                "server: RSS growth {growth:+.1} MB (max {} MB) · FDs max {}",
                resources
                    .rss_max_mb
                    .map_or("—".into(), |m| format!("{m:.1}")),
                resources.fds_max.map_or("—".into(), |f| f.to_string()),
            );
        }
        (None, None) => {}
    }
    for note in &result.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::saved::SavedResult;

    fn scenario(criteria: Vec<SavedCriterion>) -> SavedScenario {
        SavedScenario {
            name: "soak <1>".into(),
            verdict: "FAIL".into(),
            result: Some(SavedResult {
                elapsed_s: 2.5,
                criteria,
                ..SavedResult::default()
            }),
            ..SavedScenario::default()
        }
    }

    fn criterion(expression: &str, state: &str, value: f64, threshold: f64) -> SavedCriterion {
        SavedCriterion {
            expression: expression.into(),
            state: state.into(),
            value: Some(value),
            threshold: Some(threshold),
            detail: "p95(load) = 43.2 ms".into(),
            about: None,
        }
    }

    #[test]
    fn each_criterion_is_a_case_failed_with_its_value_and_limit() {
        let report = SavedReport {
            scenarios: vec![scenario(vec![
                criterion("p95_ms <= 20", "FAIL", 43.21, 20.0),
                criterion("success_rate >= 0.99", "PASS", 1.0, 0.99),
                criterion("rss_growth_mb <= 50", "NOT_MEASURED", 0.0, 50.0),
            ])],
            ..SavedReport::default()
        };
        let xml = render(&report);
        assert!(
            xml.contains(
                "<testsuites name=\"mcpstorm\" tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\""
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<testsuite name=\"soak &lt;1&gt;\" tests=\"4\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "name=\"p95_ms &lt;= 20\" time=\"0.000\">\n      <failure message=\"p95_ms &lt;= 20: 43.21 against 20\" type=\"criterion\">p95(load) = 43.2 ms</failure>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"success_rate &gt;= 0.99\" time=\"0.000\"/>"),
            "{xml}"
        );
        assert!(xml.contains("<skipped message=\"not measured: "), "{xml}");
        assert!(
            xml.contains("name=\"the run completes\" time=\"2.500\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn a_scenario_that_could_not_run_is_an_error_and_one_cut_short_a_failure() {
        let report = SavedReport {
            scenarios: vec![
                SavedScenario {
                    name: "a".into(),
                    error: Some("could not start: \u{1}boom".into()),
                    ..SavedScenario::default()
                },
                SavedScenario {
                    name: "b".into(),
                    incomplete: Some("the server crashed 1 time(s)".into()),
                    ..scenario(Vec::new())
                },
            ],
            ..SavedReport::default()
        };
        let xml = render(&report);
        assert!(
            xml.contains("<error message=\"could not start: \u{FFFD}boom\" type=\"setup\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<failure message=\"incomplete: the server crashed 1 time(s)\" type=\"incomplete\">"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("tests=\"2\" failures=\"1\" errors=\"1\""),
            "{xml}"
        );
    }
}
