//! mcpstorm: load-test MCP servers and judge, live, whether they hold up.
//!
//! Data flows one way (docs/ARCHITECTURE.md has the layers and where to add
//! things):
//! scenario → [`engine`] → workers → [`transport`] → server process;
//! call events and [`probe`] samples → [`stats`] aggregator → snapshots →
//! [`acceptance`] verdicts → [`report`] and the live dashboard ([`ui`]).

/// `print!` to stdout, where a closed stdout (`mcpstorm metrics | head -1`, a
/// CI log that went away) is not an error: what cannot be written is dropped
/// and the command goes on, its report and exit code intact.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!` as [`out!`] does it.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub mod acceptance;
pub mod builtin_server;
pub mod cli;
pub mod client;
pub mod engine;
pub mod load;
pub mod probe;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod transport;
pub mod ui;
