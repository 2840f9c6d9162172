//! The JSON report output (`--report`), written whole once the run is over.
//! Its schema is in docs/REPORT.md.

use super::{Destination, Output, OutputError, Report};

pub struct JsonReport {
    pub destination: Destination,
}

impl Output for JsonReport {
    fn finish(&self, report: &Report) -> Result<(), OutputError> {
        let shown = self.destination.shown();
        report
            .to_json()
            .and_then(|json| self.destination.write(&json))
            .map_err(|source| OutputError::Write {
                what: "report",
                shown: shown.clone(),
                source,
            })?;
        eprintln!("mcpstorm: report written to {shown}");
        Ok(())
    }
}
