//! The JSON report output (`--report`), written whole once the run is over
//! (and, on the dashboard, as soon as every scenario has run: before the
//! final view, where `r` runs everything again into `report.2.json`).
//! Its schema is in docs/REPORT.md.

use super::{Destination, Output, OutputError, Report};

pub struct JsonReport {
    pub destination: Destination,
}

impl JsonReport {
    /// Write `report` where its run goes: the first to the destination, a
    /// later one (`r` on the final view) beside it, numbered.
    fn write(&self, report: &Report) -> Result<String, OutputError> {
        let destination = self.destination.numbered(report.run);
        let shown = destination.shown();
        report
            .to_json()
            .and_then(|json| destination.write(&json))
            .map_err(|source| OutputError::Write {
                what: "report",
                shown: shown.clone(),
                source,
            })?;
        Ok(shown)
    }
}

impl Output for JsonReport {
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
        eprintln!("mcpstorm: report written to {shown}");
        Ok(())
    }
}
