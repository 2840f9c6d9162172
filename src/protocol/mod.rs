//! MCP on the wire, without I/O: JSON-RPC framing and reading, protocol
//! revisions, how a reply counts, the robustness probes' bad frames, the
//! HTTP header rules client and built-in server share, and making server
//! text safe to show. The client that speaks it is `crate::client`.

pub(crate) mod bad_input;
pub(crate) mod http_headers;
pub mod id_scan;
pub mod jsonrpc;
pub(crate) mod meta;
pub(crate) mod outcome;
pub(crate) mod param_headers;
pub(crate) mod untrusted;
pub(crate) mod version;

pub use outcome::{Classified, Outcome};
pub use version::{Era, ProtocolVersion, ServerInfo};
