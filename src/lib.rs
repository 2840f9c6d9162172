//! mcpstorm: load-test MCP servers and judge, live, whether they hold up.
//!
//! Data flows one way (docs/ARCHITECTURE.md has the layers and where to add
//! things):
//! scenario → engine → load model → client → transport → server process;
//! call events and [`probe`] samples → [`stats`] aggregator → snapshots →
//! [`acceptance`] verdicts → the outputs ([`report`], the dashboard in [`ui`]).
//!
//! The public modules are what the integration tests, the benches and the
//! binary use; the rest is crate-private, so rustc reports what nothing uses.

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
pub(crate) mod builtin_server;
pub mod cli;
pub(crate) mod client;
pub mod compare;
pub(crate) mod engine;
pub(crate) mod load;
pub mod merge;
pub(crate) mod pacer;
pub mod probe;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod stats;
pub(crate) mod transport;
pub mod ui;
