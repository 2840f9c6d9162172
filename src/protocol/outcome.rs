//! What became of one call: the six outcomes every figure is counted by.

use serde::Serialize;
use serde_json::Value;

use super::untrusted::{QUOTE_CHARS, quote, quote_fmt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A result, and for `tools/call` not `isError: true`.
    Ok,
    /// A JSON-RPC error response.
    RpcError,
    /// A `tools/call` result with `isError: true`.
    ToolError,
    /// No response within the per-call timeout.
    Timeout,
    /// The connection failed (server exited, pipe closed, HTTP failure).
    TransportError,
    /// A response that breaks the protocol (wrong shape, mixed-up content).
    ProtocolError,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::RpcError,
        Outcome::ToolError,
        Outcome::Timeout,
        Outcome::TransportError,
        Outcome::ProtocolError,
    ];
}

/// An outcome with the message worth showing when it is not `Ok`.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub outcome: Outcome,
    pub message: Option<String>,
}

impl Classified {
    pub fn ok() -> Self {
        Classified {
            outcome: Outcome::Ok,
            message: None,
        }
    }

    /// A failure, its message (which may quote the server) bounded and
    /// made safe to show.
    pub fn failed(outcome: Outcome, message: impl AsRef<str>) -> Self {
        Classified {
            outcome,
            message: Some(quote(message.as_ref(), QUOTE_CHARS)),
        }
    }

    /// [`Classified::failed`] with the message formatted no longer than it is kept.
    pub fn failed_fmt(outcome: Outcome, message: std::fmt::Arguments<'_>) -> Self {
        Classified {
            outcome,
            message: Some(quote_fmt(message, QUOTE_CHARS)),
        }
    }
}

/// The text blocks of a tool result, joined: what a model would read.
pub fn tool_text(result: &Value) -> String {
    result
        .get("content")
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
