//! MCP on the wire: JSON-RPC framing, protocol revisions, sessions and how a
//! call's outcome is classified.

pub(crate) mod bad_input;
pub(crate) mod catalog;
pub mod id_scan;
pub mod jsonrpc;
mod negotiate;
pub(crate) mod outcome;
pub(crate) mod session;
pub(crate) mod untrusted;
pub(crate) mod version;

pub use outcome::{Classified, Outcome};
pub use session::{ProtocolChoice, ServerInfo, Session, SetupError};
pub use version::{Era, ProtocolVersion};
