//! Where a run's results go: one `Output` per destination, chosen from the
//! command line (`cli::run::outputs` lists them). An output may follow the
//! run live (the dashboard, the progress line: they read snapshots), take
//! each scenario's result as it ends (the text summary) and the whole report
//! at the end (the JSON report). Another format (HTML, JUnit) is one more
//! implementation in its own file and one line in that list.

use tokio::task::JoinHandle;

use super::{LiveFeed, Report, ScenarioResult};

/// An output could not show or write the run's results.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write the {what} to {shown}: {source}")]
    Write {
        what: &'static str,
        shown: String,
        source: std::io::Error,
    },
    /// A live output could not show the run (the terminal refused).
    #[error("{what}: {source}")]
    Show {
        what: &'static str,
        source: std::io::Error,
    },
}

/// What a live output runs while it follows the run; it ends once the run
/// is over (`LiveFeed::over`) or stopped (`LiveFeed::halt`).
pub type Following = JoinHandle<Result<(), OutputError>>;

pub trait Output {
    /// The run begins: a live output starts following it.
    fn follow(&mut self, _feed: &LiveFeed) -> Result<Option<Following>, OutputError> {
        Ok(None)
    }

    /// Whether it holds the terminal while it follows: the other outputs'
    /// per-scenario text then waits until it has let go.
    fn holds_the_terminal(&self) -> bool {
        false
    }

    /// A scenario is over (with an output holding the terminal, each in turn
    /// once the screen is back).
    fn scenario(&self, _result: &ScenarioResult) {}

    /// Every scenario has run, and the dashboard's final view waits for the
    /// person (who may run everything again with `r`): an output that keeps
    /// the results writes them now, so that none are lost.
    fn run_over(&self, _report: &Report) -> Result<(), OutputError> {
        Ok(())
    }

    /// The run is over.
    fn finish(&self, _report: &Report) -> Result<(), OutputError> {
        Ok(())
    }
}
