//! MCP on the wire: JSON-RPC framing, protocol revisions, sessions and how a
//! call's outcome is classified.

pub mod bad_input;
pub mod catalog;
pub mod id_scan;
pub mod jsonrpc;
mod negotiate;
pub mod outcome;
pub mod session;
pub mod untrusted;
pub mod version;

pub use outcome::{Classified, Outcome};
pub use session::{ProtocolChoice, ServerInfo, Session, SetupError};
pub use version::{Era, ProtocolVersion};
