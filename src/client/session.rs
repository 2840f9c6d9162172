//! An MCP session over a connection: opening it (handshake era: `initialize`)
//! and dressing each request for the era in use.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::negotiate;
use crate::protocol::jsonrpc::{self, Params};
use crate::protocol::meta::dress;
use crate::protocol::{Era, Outcome, ProtocolVersion, ServerInfo};
use crate::transport::{CloseReport, Connection, ExitInfo, Reply, RequestError};

/// Why a session could not be opened. Each message quotes what the server said.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("server exited during {method} ({exit}){}", stderr_note(.stderr_tail))]
    ServerExited {
        method: String,
        exit: ExitInfo,
        stderr_tail: Vec<String>,
    },
    #[error("server did not answer {method} within {timeout:?}{}", stderr_note(.stderr_tail))]
    Timeout {
        method: String,
        timeout: Duration,
        stderr_tail: Vec<String>,
    },
    #[error("server rejected initialize: JSON-RPC error {code}: {message}{}", stderr_note(.stderr_tail))]
    Rejected {
        code: i64,
        message: String,
        stderr_tail: Vec<String>,
    },
    #[error(
        "server chose protocol version {got:?}, which mcpstorm does not speak (offered {offered})"
    )]
    UnsupportedVersion {
        offered: ProtocolVersion,
        got: String,
    },
    #[error("server answered initialize with a malformed result: {0}")]
    Malformed(String),
    #[error("{method} failed: {detail}{}", output_note(.stderr_tail))]
    Unreachable {
        method: String,
        detail: String,
        stderr_tail: Vec<String>,
    },
    #[error(
        "--protocol {0} needs a server that answers server/discover (the stateless era); \
         this one does not — leave --protocol out to fall back to initialize"
    )]
    NotModern(ProtocolVersion),
    #[error(
        "no protocol revision could be agreed: server/discover in {asked}, a revision the \
         server names as supported, was refused or answered for another: {said}"
    )]
    NoAgreement {
        asked: ProtocolVersion,
        said: String,
    },
}

impl SetupError {
    /// How a failed opening counts when it is one of the calls measured (a
    /// cold start, a churned session).
    pub fn outcome(&self) -> Outcome {
        match self {
            SetupError::Timeout { .. } => Outcome::Timeout,
            SetupError::Rejected { .. } => Outcome::RpcError,
            SetupError::ServerExited { .. } | SetupError::Unreachable { .. } => {
                Outcome::TransportError
            }
            _ => Outcome::ProtocolError,
        }
    }
}

fn stderr_note(tail: &[String]) -> String {
    if tail.is_empty() {
        "; the server wrote nothing to stderr".to_string()
    } else {
        format!("; server stderr ends with:\n    {}", tail.join("\n    "))
    }
}

/// The server's output, when there is any (an HTTP server mcpstorm did not
/// start has none to show).
fn output_note(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        stderr_note(tail)
    }
}

pub struct Session {
    connection: Connection,
    version: ProtocolVersion,
    server: ServerInfo,
    /// HTTP, handshake era: the server assigned a session id at `initialize`,
    /// so a lost one (404) must be replaced by a new `initialize`.
    uses_sessions: bool,
    /// Held while a lost session is re-opened, so one worker re-opens it and
    /// the others wait for the new id.
    reopening: tokio::sync::Mutex<()>,
    /// The stateless era's `_meta` (null in the handshake era), and the
    /// same as a member's JSON text (`"_meta":{…}`), both made once.
    meta: Value,
    meta_member: Vec<u8>,
}

/// Which protocol revision to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolChoice {
    /// Probe with `server/discover` (2026-07-28) and fall back to the
    /// `initialize` handshake when the server is not a modern one.
    Auto,
    /// Speak exactly this revision, or fail.
    Force(ProtocolVersion),
}

impl Session {
    /// Open a session as `choice` says, within `timeout` for the whole
    /// handshake (the server's start-up time, not a call's). In the handshake era that is
    /// `initialize` → result → `notifications/initialized`; in the stateless
    /// era there is no session to open, and `server/discover` gives the
    /// server's identity and revisions.
    pub async fn open(
        connection: Connection,
        choice: ProtocolChoice,
        timeout: Duration,
    ) -> Result<Session, SetupError> {
        match negotiate::negotiate(&connection, choice, timeout).await {
            Ok((version, server)) => {
                let meta = meta(version);
                Ok(Session {
                    uses_sessions: connection.has_session(),
                    connection,
                    version,
                    server,
                    reopening: tokio::sync::Mutex::new(()),
                    meta_member: meta_member(&meta),
                    meta,
                })
            }
            Err(error) => {
                // A server we cannot speak to is stopped, not left running.
                connection.close(SETUP_FAILURE_GRACE).await;
                Err(error)
            }
        }
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    pub fn server(&self) -> &ServerInfo {
        &self.server
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Send one request as the session's era requires. Returns when it was handed
    /// to the transport together with what came back.
    pub async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        timeout: Duration,
    ) -> (Instant, Result<Reply, RequestError>) {
        self.call(method, params.map(|p| p as &dyn Params), timeout)
            .await
    }

    /// [`Session::request`] with params of any kind (a call template's).
    pub async fn call(
        &self,
        method: &str,
        params: Option<&dyn Params>,
        timeout: Duration,
    ) -> (Instant, Result<Reply, RequestError>) {
        if self.uses_sessions && !self.connection.has_session() {
            self.reopen(timeout).await;
        }
        let dressed = Dressed {
            params,
            version: self.version,
            meta: &self.meta,
            meta_member: &self.meta_member,
        };
        let params = match self.version.era() {
            Era::Handshake => params,
            Era::Stateless => Some(&dressed as &dyn Params),
        };
        let sent_at = Instant::now();
        let reply = self.connection.request(method, params, timeout).await;
        (sent_at, reply)
    }

    /// The server forgot the session (HTTP 404): open a new one with the same
    /// version, as the specification requires. Concurrent callers wait for it.
    async fn reopen(&self, timeout: Duration) {
        let _one_at_a_time = self.reopening.lock().await;
        if self.connection.carries_session_ids() && !self.connection.has_session() {
            // A failure shows in the calls that follow, which go without a session.
            let _ = negotiate::initialize(&self.connection, self.version, timeout).await;
        }
    }

    /// End the session and the connection (see [`Connection::close`]).
    pub async fn close(&self, grace: Duration) -> CloseReport {
        self.connection.close(grace).await
    }
}

/// How long a server we could not speak to gets to exit before it is stopped.
const SETUP_FAILURE_GRACE: Duration = Duration::from_millis(500);

/// The `_meta` [`dress`] adds (null in the handshake era).
fn meta(version: ProtocolVersion) -> Value {
    dress(version, None)
        .and_then(|dressed| dressed.get("_meta").cloned())
        .unwrap_or_default()
}

/// `meta` as a member's JSON text, `"_meta":{…}` (empty when it is null).
fn meta_member(meta: &Value) -> Vec<u8> {
    if meta.is_null() {
        return Vec::new();
    }
    let mut text = br#""_meta":"#.to_vec();
    meta.write_json(&mut text);
    text
}

/// Params with the stateless era's `_meta`. As text, the member written once
/// goes in after the params' own; params that carry a `_meta` of their own
/// (whose keys must be kept) go through [`dress`].
struct Dressed<'a> {
    params: Option<&'a dyn Params>,
    version: ProtocolVersion,
    meta: &'a Value,
    meta_member: &'a [u8],
}

impl Params for Dressed<'_> {
    fn value(&self) -> Cow<'_, Value> {
        let params = self.params.map(|p| p.value());
        Cow::Owned(
            dress(self.version, params.as_deref())
                .map(Cow::into_owned)
                .unwrap_or_default(),
        )
    }

    fn field(&self, path: &[&str]) -> Option<Cow<'_, Value>> {
        match (path, self.params) {
            (["_meta", inner @ ..], params) => {
                if params.is_some_and(|p| p.has_meta()) {
                    jsonrpc::member_of_value(self, path)
                } else {
                    jsonrpc::member(self.meta, inner).map(Cow::Borrowed)
                }
            }
            (_, Some(params)) => params.field(path),
            (_, None) => None,
        }
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        let Some(params) = self.params else {
            out.push(b'{');
            out.extend_from_slice(self.meta_member);
            out.push(b'}');
            return;
        };
        if params.has_meta() {
            return self.value().write_json(out);
        }
        let start = out.len();
        params.write_json(out);
        match &out[start..] {
            [b'{', b'}'] => out.truncate(start + 1),
            [b'{', .., b'}'] => {
                out.pop();
                out.push(b',');
            }
            // Params that are not an object are dropped, as `dress` does.
            _ => {
                out.truncate(start);
                out.push(b'{');
            }
        }
        out.extend_from_slice(self.meta_member);
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::meta::META_PROTOCOL_VERSION;
    use serde_json::json;

    /// The text written for a request is the dressed value, whatever the params.
    #[test]
    fn dressed_text_is_the_dressed_value() {
        let version = ProtocolVersion::V2026_07_28;
        let meta = meta(version);
        let meta_member = meta_member(&meta);
        let cases = [
            None,
            Some(json!({})),
            Some(json!({"name": "echo", "arguments": {"message": "}{"}})),
            Some(json!({"name": "echo", "_meta": {"progressToken": 7}})),
            Some(json!(42)),
        ];
        for params in cases {
            let dressed = Dressed {
                params: params.as_ref().map(|p| p as &dyn Params),
                version,
                meta: &meta,
                meta_member: &meta_member,
            };
            let mut text = b"prefix".to_vec();
            dressed.write_json(&mut text);
            assert!(text.starts_with(b"prefix"));
            let parsed: Value = serde_json::from_slice(&text[6..]).unwrap();
            assert_eq!(
                parsed,
                *dress(version, params.as_ref()).unwrap(),
                "{params:?}"
            );
            assert_eq!(parsed, *dressed.value());
            for path in [
                &["_meta"][..],
                &["_meta", META_PROTOCOL_VERSION],
                &["name"],
                &["arguments"],
                &["arguments", "message"],
                &["arguments", "absent"],
            ] {
                assert_eq!(
                    dressed.field(path).as_deref(),
                    jsonrpc::member(&parsed, path),
                    "{path:?}"
                );
            }
        }
    }
}
