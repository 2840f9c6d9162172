//! `mcpstorm merge SEGMENT.json… -o ALL.json`: the report of a whole test
//! from its segments' reports (docs/SCALING.md). The exit code is the
//! merged verdict's: 0 PASS, 1 FAIL, 2 when the reports cannot be merged.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::exit;
use crate::report::Destination;

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The reports of every segment of one test (runs given --segment I/N).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Write the merged JSON report to FILE (`-` is stdout); `mcpstorm
    /// report FILE --out …` makes the other formats from it.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

pub fn merge(args: MergeArgs) -> ExitCode {
    let destination = match Destination::check_for("--output ", &args.output) {
        Ok(destination) => destination,
        Err(error) => return setup_error(error),
    };
    let merged = match crate::merge::merge(&args.reports) {
        Ok(merged) => merged,
        Err(error) => return setup_error(error),
    };
    let written = serde_json::to_vec_pretty(&merged)
        .map_err(std::io::Error::other)
        .and_then(|mut bytes| {
            bytes.push(b'\n');
            destination.write(&bytes)
        });
    if let Err(error) = written {
        return setup_error(format!("cannot write {}: {error}", destination.shown()));
    }
    let verdict = merged["verdict"].as_str().unwrap_or("ERROR");
    eprintln!(
        "mcpstorm: {} segments merged into {} — {verdict}",
        args.reports.len(),
        destination.shown()
    );
    ExitCode::from(match verdict {
        "PASS" => exit::PASS,
        "FAIL" => exit::FAIL,
        _ => exit::SETUP,
    })
}

fn setup_error(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("mcpstorm: {error}");
    ExitCode::from(exit::SETUP)
}
