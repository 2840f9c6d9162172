//! `mcpstorm compare BASE.json NEW.json [--fail-on "p95 +10%"]…`: did this
//! change make the server slower or leakier? The comparison goes to
//! standard output as Markdown (or to `--markdown FILE`); the exit code is
//! 1 when a difference crosses a threshold, from `--fail-on` or from the
//! new run's scenario (`regressions = […]`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::exit;
use crate::compare::threshold::{self, Threshold};
use crate::compare::{Comparison, NoiseFloors, Run, markdown};
use crate::protocol::untrusted;
use crate::report::Destination;
use crate::report::saved::SavedReport;

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The run to compare against (a JSON report: `--report` or `--out json=`).
    pub base: PathBuf,
    /// The run under judgement.
    pub new: PathBuf,
    /// Another run of the base's build (repeatable): with several runs a
    /// side, their spread is the noise a difference must exceed.
    #[arg(long = "base-also", value_name = "REPORT")]
    pub base_also: Vec<PathBuf>,
    /// Another run of the new build (repeatable).
    #[arg(long = "new-also", value_name = "REPORT")]
    pub new_also: Vec<PathBuf>,
    /// Fail (exit 1) when a difference beyond noise crosses this: a metric
    /// and a signed change, "p95 +10%" (a rise of more than 10 %),
    /// "rss_trend_kb_per_call +0.5" (in the metric's unit), "throughput -5%"
    /// (a fall); repeatable. docs/COMPARE.md lists the metrics.
    #[arg(long = "fail-on", value_name = "METRIC ±CHANGE", value_parser = parse_threshold)]
    pub fail_on: Vec<Threshold>,
    /// The smallest latency change, in per cent of the base, called beyond
    /// noise: two runs of one server drift apart by a few per cent that no
    /// interval of either run foresees.
    #[arg(long = "noise-floor", value_name = "PERCENT", default_value_t = 5.0, value_parser = parse_percent)]
    pub noise_floor: f64,
    /// The smallest change of memory kept per call, in KB, called beyond
    /// noise (`rss_trend_kb_per_call`, `rss_kb_per_call`).
    #[arg(long = "memory-floor", value_name = "KB", default_value_t = 0.5, value_parser = parse_kb)]
    pub memory_floor: f64,
    /// Write the Markdown to FILE (`-` is stdout, the default) and only the
    /// verdict to standard error.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also write the comparison as JSON to FILE (`-` is stdout): every
    /// figure of both runs, its change and noise, and the thresholds crossed.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    text.trim()
        .trim_end_matches('%')
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1000.0).contains(p))
        .ok_or_else(|| format!("{text:?}: a percentage from 0 to 1000, as 5 or 5%"))
}

fn parse_kb(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|kb| (0.0..=1e9).contains(kb))
        .ok_or_else(|| format!("{text:?}: KB per call, a number from 0"))
}

fn parse_threshold(text: &str) -> Result<Threshold, String> {
    text.parse()
        .map_err(|e: threshold::ThresholdError| e.to_string())
}

pub fn compare(args: CompareArgs) -> ExitCode {
    let check = |flag: &str, path: &Option<PathBuf>| match path {
        None => Ok(None),
        Some(path) => Destination::check_for(flag, path).map(Some),
    };
    let (destination, json) = match (
        check("--markdown ", &args.markdown),
        check("--json ", &args.json),
    ) {
        (Ok(markdown), Ok(json)) => (markdown.unwrap_or(Destination::Stdout), json),
        (Err(error), _) | (_, Err(error)) => return setup_error(error),
    };
    if json.as_ref().is_some_and(|json| *json == destination) {
        return setup_error(
            "--json and the Markdown go to the same place: give --markdown FILE or --json FILE",
        );
    }
    let read = |paths: Vec<&PathBuf>| -> Result<Vec<(SavedReport, String)>, ExitCode> {
        paths
            .into_iter()
            .map(|path| {
                SavedReport::read(path)
                    .map(|report| (report, path.display().to_string()))
                    .map_err(setup_error)
            })
            .collect()
    };
    let base = match read(std::iter::once(&args.base).chain(&args.base_also).collect()) {
        Ok(base) => base,
        Err(code) => return code,
    };
    let new = match read(std::iter::once(&args.new).chain(&args.new_also).collect()) {
        Ok(new) => new,
        Err(code) => return code,
    };
    let mut comparison = Comparison::of(
        &runs(&base),
        &runs(&new),
        NoiseFloors {
            latency: args.noise_floor / 100.0,
            memory_kb_per_call: args.memory_floor,
        },
    );
    // Each scenario's own thresholds, as the new run's report keeps them.
    for scenario in &mut comparison.scenarios {
        let Some(written) = new[0].0.scenarios.iter().find(|s| s.name == scenario.name) else {
            continue;
        };
        for text in &written.regressions {
            match text.parse::<Threshold>() {
                Ok(own) => scenario.regressions.push(own),
                Err(error) => {
                    return setup_error(format!(
                        "{}: scenario {:?}: {error}",
                        args.new.display(),
                        untrusted::quote(&scenario.name, 120)
                    ));
                }
            }
        }
    }
    let thresholds = &args.fail_on;
    let crossed = threshold::crossings(&comparison, thresholds);
    let text = markdown::render(&comparison, thresholds, &crossed);
    if let Err(error) = destination.write(text.as_bytes()) {
        return setup_error(format!(
            "cannot write the comparison to {}: {error}",
            destination.shown()
        ));
    }
    if let Some(json) = json {
        let document = serde_json::json!({
            "comparison": comparison,
            "thresholds": thresholds.iter().map(|t| &t.text).collect::<Vec<_>>(),
            "crossed": crossed,
        });
        let written = serde_json::to_vec_pretty(&document)
            .map_err(std::io::Error::other)
            .and_then(|mut bytes| {
                bytes.push(b'\n');
                json.write(&bytes)
            });
        if let Err(error) = written {
            return setup_error(format!(
                "cannot write the comparison to {}: {error}",
                json.shown()
            ));
        }
    }
    if !destination.is_stdout() {
        eprintln!(
            "mcpstorm: comparison written to {}: {}",
            destination.shown(),
            match (
                thresholds.is_empty()
                    && comparison
                        .scenarios
                        .iter()
                        .all(|s| s.regressions.is_empty()),
                crossed.len()
            ) {
                (true, _) => "no threshold given".to_string(),
                (false, 0) => "no threshold crossed".to_string(),
                (false, n) => format!("{n} differences crossed a threshold"),
            }
        );
    }
    ExitCode::from(if crossed.is_empty() {
        exit::PASS
    } else {
        exit::FAIL
    })
}

fn runs(side: &[(SavedReport, String)]) -> Vec<Run<'_>> {
    side.iter()
        .map(|(report, file)| Run { report, file })
        .collect()
}

fn setup_error(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("mcpstorm: {error}");
    ExitCode::from(exit::SETUP)
}
