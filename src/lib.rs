//! mcpstorm: load-test MCP servers and judge, live, whether they hold up.
//!
//! Data flows one way (docs/ARCHITECTURE.md has the layers and where to add
//! things):
//! scenario → [`engine`] → workers → [`transport`] → server process;
//! call events and [`probe`] samples → [`stats`] aggregator → snapshots →
//! [`acceptance`] verdicts → [`report`] and the live dashboard ([`ui`]).

pub mod acceptance;
pub mod builtin_server;
pub mod cli;
pub mod engine;
pub mod probe;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod transport;
pub mod ui;
