//! The MCP client mcpstorm is, built on a transport's connection: a session
//! (the handshake or `server/discover`, each request dressed as its era
//! wants), the catalog of tools, resources and prompts, and how a reply
//! counts.

pub(crate) mod catalog;
mod classify;
mod negotiate;
pub(crate) mod session;

pub use classify::classify;
pub use session::{ProtocolChoice, Session, SetupError};
