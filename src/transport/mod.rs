//! Moving JSON-RPC messages to and from a server process, matching responses
//! to requests by id.

pub(crate) mod connection;
pub(crate) mod connector;
pub(crate) mod correlator;
pub(crate) mod custody;
mod endpoint_client;
pub(crate) mod fd_limit;
mod fetch;
pub(crate) mod http;
mod http_endpoint;
pub(crate) mod http_pool;
mod legacy_sse;
pub(crate) mod oauth;
pub(crate) mod outbox;
pub(crate) mod process;
pub(crate) mod proxy;
mod redirect;
pub(crate) mod stdio;
pub(crate) mod tls;

pub use connection::{CloseReport, ConnectError, ConnectOptions, Connection, HttpTarget, Target};
pub use correlator::{Correlator, Reply};
pub use oauth::OAuthClient;
pub use process::{ExitInfo, ServerCommand};
pub use stdio::StderrTail;
pub use tls::TlsOptions;

use std::fmt;
use std::time::Duration;

use crate::protocol::jsonrpc::ResponseBody;

/// How mcpstorm speaks to a server: over its stdin and stdout, over
/// Streamable HTTP, or over the deprecated HTTP+SSE transport (2024-11-05).
/// Shown and reported as `stdio`, `http` and `sse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Stdio,
    Http,
    /// The deprecated HTTP+SSE transport: --url names the SSE endpoint
    /// (often …/sse).
    Sse,
}

impl TransportKind {
    /// Whether one server outlives the sessions opened on it: over HTTP a
    /// session is a client's; over stdio each session is a process of its own.
    pub fn sessions_share_a_server(self) -> bool {
        self != TransportKind::Stdio
    }

    /// Whether it runs over HTTP.
    pub fn is_http(self) -> bool {
        self != TransportKind::Stdio
    }

    /// What asks a server to exit at the end, in words.
    pub fn polite_stop(self) -> &'static str {
        match self {
            TransportKind::Stdio => "its stdin closing",
            TransportKind::Http | TransportKind::Sse => "SIGTERM",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Stdio => "stdio",
            TransportKind::Http => "http",
            TransportKind::Sse => "sse",
        })
    }
}

/// What came back for a raw frame.
#[derive(Debug)]
pub enum RawReply {
    /// A JSON-RPC response: for its id, or without a usable id.
    Response(ResponseBody),
    /// HTTP: a non-2xx status, with the JSON-RPC error code of its body.
    Refused { status: u16, code: Option<i64> },
}

impl RawReply {
    /// What a probe's failed exchange says: a refusal status is the answer
    /// (what the probe asks for), any other failure stays one.
    pub(crate) fn from_failure(error: RequestError) -> Result<RawReply, RequestError> {
        match error {
            RequestError::Status { status, code, .. } => Ok(RawReply::Refused { status, code }),
            other => Err(other),
        }
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("connection closed: {0}")]
    Closed(String),
    /// HTTP: the exchange failed (connection refused or reset).
    #[error("{0}")]
    Http(String),
    /// HTTP: a non-2xx status without a JSON-RPC answer for the request;
    /// a request that gets one counts it in `WireCounters::http_errors`. `code`: the JSON-RPC error
    /// code its body carried, if any.
    #[error("{detail}")]
    Status {
        status: u16,
        code: Option<i64>,
        detail: String,
    },
    /// HTTP: the server answered 404 to the session id: it no longer knows
    /// the session, which must be opened again.
    #[error("session expired: HTTP 404 for Mcp-Session-Id")]
    SessionExpired,
    /// The reply broke the transport's rules (wrong content type, no response
    /// for the request in it).
    #[error("{0}")]
    Protocol(String),
    /// mcpstorm itself could not send the request (it ran out of file
    /// descriptors): a limit of this machine, not a failure of the server.
    #[error("{0}")]
    LocalLimit(String),
    /// HTTP: the server refused the request's credentials (401, or 403 for
    /// insufficient scope, with `WWW-Authenticate`): an auth failure, not a
    /// server error.
    #[error("{0}")]
    AuthRefused(String),
}
