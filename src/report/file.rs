//! The reports written to files (`--report`, `--out KIND=FILE`): the JSON
//! report, and the formats made from it (JUnit, HTML, Markdown). Each is written whole once
//! the run is over (and, on the dashboard, as soon as every scenario has
//! run: before the final view, where `r` runs everything again into
//! `report.2.json`). The JSON's schema is in docs/REPORT.md.

use super::saved::SavedReport;
use super::{Destination, Output, OutputError, Report, html, junit, markdown};

/// A file format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The JSON report: the source of truth.
    Json,
    /// JUnit XML, made from the JSON.
    Junit,
    /// A self-contained HTML page, made from the JSON.
    Html,
    /// A summary in Markdown (a CI job's summary page), made from the JSON.
    Markdown,
}

impl Format {
    /// Every format, as `--out` names them.
    pub const ALL: [Format; 4] = [Format::Json, Format::Junit, Format::Html, Format::Markdown];

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Html => "html",
            Format::Markdown => "markdown",
        }
    }

    /// What the written file is, for messages.
    pub fn what(self) -> &'static str {
        match self {
            Format::Json => "report",
            Format::Junit => "JUnit report",
            Format::Html => "HTML report",
            Format::Markdown => "Markdown summary",
        }
    }

    pub fn named(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// A run's report in this format.
    pub fn render(self, report: &Report) -> std::io::Result<Vec<u8>> {
        match self {
            Format::Json => report.to_json(),
            format => Ok(format.render_saved(&SavedReport::of(report)?)),
        }
    }

    /// A saved report in this format (not JSON: that is the file itself).
    pub fn render_saved(self, report: &SavedReport) -> Vec<u8> {
        match self {
            Format::Junit => junit::render(report).into_bytes(),
            Format::Html => html::render(report).into_bytes(),
            Format::Markdown => markdown::render(report).into_bytes(),
            Format::Json => Vec::new(),
        }
    }
}

pub struct FileReport {
    pub format: Format,
    pub destination: Destination,
}

impl FileReport {
    /// Write `report` where its run goes: the first to the destination, a
    /// later one (`r` on the final view) beside it, numbered.
    fn write(&self, report: &Report) -> Result<String, OutputError> {
        let destination = self.destination.numbered(report.run);
        let shown = destination.shown();
        self.format
            .render(report)
            .and_then(|bytes| destination.write(&bytes))
            .map_err(|source| OutputError::Write {
                what: self.format.what(),
                shown: shown.clone(),
                source,
            })?;
        Ok(shown)
    }
}

impl Output for FileReport {
    fn run_over(&self, report: &Report) -> Result<(), OutputError> {
        // Standard output is the dashboard's until it ends; a stream is
        // written once.
        if matches!(self.destination, Destination::File { .. }) {
            self.write(report)?;
        }
        Ok(())
    }

    fn finish(&self, report: &Report) -> Result<(), OutputError> {
        let shown = self.write(report)?;
        eprintln!("mcpstorm: {} written to {shown}", self.format.what());
        Ok(())
    }
}
