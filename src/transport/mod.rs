//! Moving JSON-RPC messages to and from a server process, matching responses
//! to requests by id.

pub mod correlator;
pub mod process;
pub mod stdio;

pub use correlator::{Correlator, Reply, WireCounters};
pub use process::{ExitInfo, ServerCommand, ServerProcess, SpawnError};
pub use stdio::{RequestError, StderrTail, StdioConnection, StdioOptions};
