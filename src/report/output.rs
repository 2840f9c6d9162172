//! Where results go once a scenario or the whole run is over: one `Output`
//! per destination, chosen from the command line. The text summary and the
//! JSON report are the first two; another format (HTML, JUnit) is one more
//! implementation and one line where `cli::run` lists the outputs. (The live
//! views, the dashboard and the progress line, read snapshots as the run
//! goes instead.)

use super::{Destination, Report, ScenarioResult, Verdict, summary};

/// An output could not be written: the run's results did not all reach it.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the {what} to {shown}: {source}")]
pub struct OutputError {
    what: &'static str,
    shown: String,
    source: std::io::Error,
}

pub trait Output {
    /// A scenario is over (headless: as it ends; after the dashboard: each
    /// in turn once the screen is back).
    fn scenario(&self, _result: &ScenarioResult) {}

    /// The run is over.
    fn finish(&self, report: &Report) -> Result<(), OutputError>;
}

/// The text summary of each scenario and the run's verdict line, on stdout
/// (on stderr when stdout carries the JSON report), coloured on a terminal.
pub struct TextSummary {
    pub to_stderr: bool,
    pub color: bool,
}

impl TextSummary {
    fn print(&self, text: &str) {
        if self.to_stderr {
            eprint!("{text}");
        } else {
            out!("{text}");
        }
    }
}

impl Output for TextSummary {
    fn scenario(&self, result: &ScenarioResult) {
        self.print(&paint(&summary::scenario_summary(result), self.color));
    }

    fn finish(&self, report: &Report) -> Result<(), OutputError> {
        let passed = report
            .scenarios
            .iter()
            .filter(|s| s.verdict == Verdict::Pass)
            .count();
        self.print(&format!(
            "mcpstorm: {} of {} scenario(s) passed — {}\n",
            passed,
            report.scenarios.len(),
            match report.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Error => "ERROR",
            }
        ));
        Ok(())
    }
}

/// The JSON report (`--report`), written whole once the run is over.
pub struct JsonReport {
    pub destination: Destination,
}

impl Output for JsonReport {
    fn finish(&self, report: &Report) -> Result<(), OutputError> {
        let shown = self.destination.shown();
        report
            .to_json()
            .and_then(|json| self.destination.write(&json))
            .map_err(|source| OutputError {
                what: "report",
                shown: shown.clone(),
                source,
            })?;
        eprintln!("mcpstorm: report written to {shown}");
        Ok(())
    }
}

/// PASS in green and FAIL in red, when the summary goes to a terminal.
fn paint(text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    text.lines()
        .map(|line| {
            let painted = line
                .replacen(" PASS ", " \x1b[32mPASS\x1b[0m ", 1)
                .replacen(" FAIL ", " \x1b[31mFAIL\x1b[0m ", 1);
            if line.starts_with("━━") {
                painted
                    .replace("━━ PASS", "━━ \x1b[1;32mPASS\x1b[0m")
                    .replace("━━ FAIL", "━━ \x1b[1;31mFAIL\x1b[0m")
            } else {
                painted
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
