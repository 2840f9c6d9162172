//! An MCP session over a connection: opening it (handshake era: `initialize`)
//! and dressing each request for the era in use.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::jsonrpc::{self, Params, ResponseBody};
use super::outcome::Outcome;
use super::untrusted::{QUOTE_CHARS, quote, quote_fmt};
use super::version::{Era, ProtocolVersion};
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

/// What the server told us about itself.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
    pub protocol_version: String,
}

/// Stderr lines quoted in setup errors.
const STDERR_QUOTED: usize = 8;

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

/// What `server/discover` told us.
enum Discovery {
    /// A modern server, and the newest revision both sides speak.
    Modern {
        version: ProtocolVersion,
        server: ServerInfo,
    },
    /// No positive sign of a modern server (an error, or no answer).
    Legacy,
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
        match negotiate(&connection, choice, timeout).await {
            Ok((version, server)) => {
                let meta = meta(version);
                Ok(Session {
                    uses_sessions: connection.http().is_some_and(|h| h.has_session()),
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
        if self.uses_sessions
            && let Some(http) = self.connection.http()
            && !http.has_session()
        {
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
        if self.connection.http().is_some_and(|h| !h.has_session()) {
            // A failure shows in the calls that follow, which go without a session.
            let _ = initialize(&self.connection, self.version, timeout).await;
        }
    }

    /// End the session and the connection (see [`Connection::close`]).
    pub async fn close(&self, grace: Duration) -> CloseReport {
        self.connection.close(grace).await
    }
}

/// How long a server we could not speak to gets to exit before it is stopped.
const SETUP_FAILURE_GRACE: Duration = Duration::from_millis(500);

/// Find the revision to speak, as `choice` says: it and the server's identity.
async fn negotiate(
    connection: &Connection,
    choice: ProtocolChoice,
    timeout: Duration,
) -> Result<(ProtocolVersion, ServerInfo), SetupError> {
    let (version, server) = match choice {
        ProtocolChoice::Auto => negotiate_auto(connection, timeout).await?,
        ProtocolChoice::Force(version) if version.era() == Era::Stateless => {
            match discover(connection, version, timeout).await? {
                Discovery::Modern {
                    version: got,
                    server,
                } if got == version => (got, server),
                Discovery::Modern { version: got, .. } => {
                    return Err(SetupError::UnsupportedVersion {
                        offered: version,
                        got: got.to_string(),
                    });
                }
                Discovery::Legacy => return Err(SetupError::NotModern(version)),
            }
        }
        ProtocolChoice::Force(version) => {
            let (got, server) = initialize(connection, version, timeout).await?;
            // `--protocol X` means exactly X: another revision, though one
            // mcpstorm speaks, is not what was asked for.
            if got != version {
                return Err(SetupError::UnsupportedVersion {
                    offered: version,
                    got: got.to_string(),
                });
            }
            (got, server)
        }
    };
    Ok((version, server))
}

/// How long the `server/discover` probe is waited for before a stdio
/// server is also asked `initialize`: a handshake-era server may ignore the
/// probe, and must not cost a whole timeout at every start.
const PROBE_PATIENCE: Duration = Duration::from_millis(500);

/// The revision of a server nothing is known of, within `timeout` for the
/// whole handshake: the probe first; a modern server answers it, a
/// handshake-era one refuses it (then `initialize`) or ignores it. Over
/// stdio, a probe unanswered after [`PROBE_PATIENCE`] is followed by
/// `initialize` at once: the server answers in order, so a modern one still
/// answers the probe first, however long it takes to start, and one that
/// ignores the probe answers `initialize`. Over HTTP (where `initialize`
/// would open a session) the probe gets half the time, `initialize` the rest.
async fn negotiate_auto(
    connection: &Connection,
    timeout: Duration,
) -> Result<(ProtocolVersion, ServerInfo), SetupError> {
    let started = Instant::now();
    let both_unanswered = |error: SetupError| match error {
        SetupError::Timeout { stderr_tail, .. } => SetupError::Timeout {
            method: "server/discover, then initialize,".into(),
            timeout,
            stderr_tail,
        },
        other => other,
    };
    if connection.http().is_some() {
        let probe_budget = timeout / 2;
        return match discover(connection, ProtocolVersion::LATEST, probe_budget).await? {
            Discovery::Modern { version, server } => Ok((version, server)),
            Discovery::Legacy => {
                let unanswered = started.elapsed() >= probe_budget;
                let left = timeout.saturating_sub(started.elapsed());
                initialize(connection, ProtocolVersion::LATEST_HANDSHAKE, left)
                    .await
                    .map_err(|e| if unanswered { both_unanswered(e) } else { e })
            }
        };
    }
    let probe = discover(connection, ProtocolVersion::LATEST, timeout);
    tokio::pin!(probe);
    let left = || timeout.saturating_sub(started.elapsed());
    tokio::select! {
        biased;
        discovered = &mut probe => {
            return match discovered? {
                Discovery::Modern { version, server } => Ok((version, server)),
                Discovery::Legacy => {
                    initialize(connection, ProtocolVersion::LATEST_HANDSHAKE, left()).await
                }
            };
        }
        _ = tokio::time::sleep(PROBE_PATIENCE) => {}
    }
    // No answer yet: ask `initialize` too, and take the first answer that
    // says what the server is. (The other request's answer, if it comes, is
    // delivered to nobody and counted nowhere.)
    let handshake = initialize(connection, ProtocolVersion::LATEST_HANDSHAKE, left());
    tokio::pin!(handshake);
    tokio::select! {
        biased;
        discovered = &mut probe => match discovered {
            Ok(Discovery::Modern { version, server }) => Ok((version, server)),
            // It refused the probe (or gave no sign of the stateless era):
            // the handshake already under way decides.
            Ok(Discovery::Legacy) => handshake.await.map_err(both_unanswered),
            Err(error) => Err(error),
        },
        initialized = &mut handshake => match initialized {
            Ok(answer) => Ok(answer),
            // `initialize` failed; the probe may still say more.
            Err(SetupError::Timeout { .. }) => match probe.await? {
                Discovery::Modern { version, server } => Ok((version, server)),
                Discovery::Legacy => Err(both_unanswered(SetupError::Timeout {
                    method: String::new(),
                    timeout,
                    stderr_tail: connection.output_tail(STDERR_QUOTED),
                })),
            },
            Err(error) => Err(error),
        },
    }
}

/// The newest revision both sides speak, from the server's list.
fn newest_mutual(supported: &[Value]) -> Option<ProtocolVersion> {
    supported
        .iter()
        .filter_map(|v| v.as_str()?.parse::<ProtocolVersion>().ok())
        .filter(|v| v.era() == Era::Stateless)
        .max()
}

fn server_info(result: &Value, version: ProtocolVersion) -> ServerInfo {
    // Some servers put their identity in `_meta` rather than `serverInfo`.
    let info = result
        .get("serverInfo")
        .or_else(|| result.pointer("/_meta/io.modelcontextprotocol~1serverInfo"));
    let field = |name: &str| {
        info.and_then(|i| i.get(name))
            .and_then(Value::as_str)
            .map(|text| quote(text, SERVER_NAME_CHARS))
            .unwrap_or_default()
    };
    ServerInfo {
        name: field("name"),
        version: field("version"),
        protocol_version: version.to_string(),
    }
}

/// Turn a failed opening request into the setup error that explains it.
async fn setup_failure(connection: &Connection, failure: RequestError, method: &str) -> SetupError {
    match failure {
        RequestError::Timeout(timeout) => SetupError::Timeout {
            method: method.to_string(),
            timeout,
            stderr_tail: connection.output_tail(STDERR_QUOTED),
        },
        RequestError::Closed(_) => {
            let stderr_tail = settle_stderr(connection).await;
            let exit = match connection.process() {
                Some(process) => process.wait_exit(Duration::from_secs(2)).await,
                None => None,
            };
            SetupError::ServerExited {
                method: method.to_string(),
                exit: exit.unwrap_or_default(),
                stderr_tail,
            }
        }
        other @ (RequestError::Http(_)
        | RequestError::Status { .. }
        | RequestError::SessionExpired
        | RequestError::Protocol(_)
        | RequestError::LocalLimit(_)) => SetupError::Unreachable {
            method: method.to_string(),
            detail: quote(&other.to_string(), QUOTE_CHARS),
            stderr_tail: settle_stderr(connection).await,
        },
    }
}

/// How many times `server/discover` is asked: once in the revision wanted,
/// and once more in the one the server names instead. A server that then
/// names yet another, or refuses the very revision it names, cannot be agreed
/// with: asking again would go on for ever.
const DISCOVER_ASKS: usize = 2;

/// Longest server name or version kept: the dashboard's header shows them.
const SERVER_NAME_CHARS: usize = 100;

/// Probe with `server/discover` at `first`.
async fn discover(
    connection: &Connection,
    first: ProtocolVersion,
    timeout: Duration,
) -> Result<Discovery, SetupError> {
    let mut asked = first;
    let mut asks = 1;
    loop {
        let (list, result, said) = match discover_once(connection, asked, timeout).await? {
            Some(offer) => offer,
            None => return Ok(Discovery::Legacy),
        };
        let Some(mutual) = newest_mutual(&list) else {
            // It answers discover but offers no modern revision we speak: treat
            // it as the handshake-era server it says it is.
            return Ok(Discovery::Legacy);
        };
        match result {
            Some(result) if mutual == asked => {
                return Ok(Discovery::Modern {
                    version: mutual,
                    server: server_info(&result, mutual),
                });
            }
            // The server named a revision other than the one we asked in: ask again in it.
            _ if mutual != asked && asks < DISCOVER_ASKS => {
                asked = mutual;
                asks += 1;
            }
            _ => return Err(SetupError::NoAgreement { asked, said }),
        }
    }
}

/// One `server/discover` in `version`: `None` for a server that shows no sign
/// of the stateless era, else the revisions it lists, its result (none when
/// it refused), and what it said, quoted for an error.
async fn discover_once(
    connection: &Connection,
    version: ProtocolVersion,
    timeout: Duration,
) -> Result<Option<(Vec<Value>, Option<Value>, String)>, SetupError> {
    let params = dress(version, None);
    let reply = connection
        .request(
            "server/discover",
            params.as_deref().map(|p| p as &dyn Params),
            timeout,
        )
        .await;
    let (supported, result, said) = match reply {
        Ok(Reply {
            body: ResponseBody::Result(result),
            ..
        }) => {
            // A result that cannot be read is no modern server's: fall back.
            let Ok(result) = result.value() else {
                return Ok(None);
            };
            let supported = result.get("supportedVersions").cloned();
            let said = format!(
                "supportedVersions {}",
                supported.clone().unwrap_or_default()
            );
            (supported, Some(result), said)
        }
        // An unsupported-version error lists what the server speaks: it is modern.
        Ok(Reply {
            body: ResponseBody::Error(error),
            ..
        }) => match error.data.as_ref().and_then(|d| d.get("supported")) {
            Some(list) => {
                let said = format!(
                    "JSON-RPC error {}: {} (supported: {list})",
                    error.code, error.message
                );
                (Some(list.clone()), None, said)
            }
            None => return Ok(None),
        },
        // An answer that cannot be read is no modern server's: fall back.
        Ok(Reply {
            body: ResponseBody::Unusable(_),
            ..
        }) => return Ok(None),
        // A legacy server may ignore a method it does not know, or (over HTTP)
        // refuse it with a status whose body is no modern JSON-RPC error.
        // That refusal is the specification's signal to fall back, not an
        // error of the server: it is not left in the HTTP error count.
        Err(RequestError::Status { .. }) => {
            connection.correlator().counters.excuse_http_error();
            return Ok(None);
        }
        Err(RequestError::Timeout(_) | RequestError::Http(_) | RequestError::Protocol(_))
            if connection.process().is_none_or(|p| p.exited().is_none()) =>
        {
            return Ok(None);
        }
        Err(closed) => return Err(setup_failure(connection, closed, "server/discover").await),
    };
    let list = supported
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default();
    Ok(Some((list, result, quote(&said, QUOTE_CHARS))))
}

/// The handshake: offer `offered`, accept the server's choice when mcpstorm
/// speaks it, then send `notifications/initialized`.
async fn initialize(
    connection: &Connection,
    offered: ProtocolVersion,
    timeout: Duration,
) -> Result<(ProtocolVersion, ServerInfo), SetupError> {
    let params = json!({
        "protocolVersion": offered.as_str(),
        "capabilities": {},
        "clientInfo": {"name": "mcpstorm", "version": env!("CARGO_PKG_VERSION")},
    });
    let result = match connection
        .request("initialize", Some(&params as &dyn Params), timeout)
        .await
    {
        Ok(Reply {
            body: ResponseBody::Result(result),
            ..
        }) => result.value().map_err(SetupError::Malformed)?,
        Ok(Reply {
            body: ResponseBody::Error(error),
            ..
        }) => {
            return Err(SetupError::Rejected {
                code: error.code,
                message: quote(&error.message, QUOTE_CHARS),
                stderr_tail: settle_stderr(connection).await,
            });
        }
        Ok(Reply {
            body: ResponseBody::Unusable(why),
            ..
        }) => return Err(SetupError::Malformed(why)),
        Err(failure) => return Err(setup_failure(connection, failure, "initialize").await),
    };
    let got = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            SetupError::Malformed(quote_fmt(
                format_args!("no protocolVersion in {result}"),
                QUOTE_CHARS,
            ))
        })?;
    let version = match got.parse::<ProtocolVersion>() {
        Ok(v) if v.era() == Era::Handshake => v,
        _ => {
            return Err(SetupError::UnsupportedVersion {
                offered,
                got: quote(got, QUOTE_CHARS),
            });
        }
    };
    if let Some(http) = connection.http() {
        http.set_protocol_version(version.as_str());
    }
    connection.notify("notifications/initialized", None).await;
    Ok((version, server_info(&result, version)))
}

/// `_meta` keys every stateless-era request carries.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";

/// Params as the era wants them: unchanged in the handshake era; in the
/// stateless era with the protocol version, client capabilities and client
/// info in `params._meta` (keys already there are kept).
pub fn dress(version: ProtocolVersion, params: Option<&Value>) -> Option<Cow<'_, Value>> {
    if version.era() == Era::Handshake {
        return params.map(Cow::Borrowed);
    }
    let mut dressed = match params {
        Some(Value::Object(map)) => map.clone(),
        _ => serde_json::Map::new(),
    };
    let meta = dressed
        .entry("_meta")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(meta) = meta {
        meta.insert(META_PROTOCOL_VERSION.into(), Value::from(version.as_str()));
        meta.entry(META_CLIENT_CAPABILITIES)
            .or_insert_with(|| json!({}));
        meta.entry(META_CLIENT_INFO)
            .or_insert_with(|| json!({"name": "mcpstorm", "version": env!("CARGO_PKG_VERSION")}));
    }
    Some(Cow::Owned(Value::Object(dressed)))
}

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

/// The server may still be writing its last words when we notice the failure.
async fn settle_stderr(connection: &Connection) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    connection.output_tail(STDERR_QUOTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_answer_is_bounded_and_says_how_long_it_was() {
        assert_eq!(quote("short", 10), "short");
        let huge = "é".repeat(10_000_000);
        let quoted = quote(&huge, QUOTE_CHARS);
        assert!(quoted.starts_with(&"é".repeat(QUOTE_CHARS)), "{quoted}");
        assert!(quoted.ends_with("… (20000000 bytes in all)"), "{quoted}");
        assert!(quoted.len() < 700);
    }

    #[test]
    fn handshake_requests_go_as_they_are() {
        let params = json!({"name": "echo"});
        let dressed = dress(ProtocolVersion::V2025_11_25, Some(&params));
        assert!(matches!(dressed, Some(Cow::Borrowed(p)) if *p == params));
        assert!(dress(ProtocolVersion::V2025_11_25, None).is_none());
    }

    #[test]
    fn stateless_requests_carry_version_and_capabilities() {
        let params = json!({"name": "echo", "_meta": {"progressToken": 7}});
        let dressed = dress(ProtocolVersion::V2026_07_28, Some(&params)).unwrap();
        let meta = &dressed["_meta"];
        assert_eq!(meta[META_PROTOCOL_VERSION], "2026-07-28");
        assert!(meta[META_CLIENT_CAPABILITIES].is_object());
        assert_eq!(meta["progressToken"], 7, "existing _meta keys are kept");
        assert_eq!(dressed["name"], "echo");
        // A method without params still gets them.
        let bare = dress(ProtocolVersion::V2026_07_28, None).unwrap();
        assert_eq!(bare["_meta"][META_PROTOCOL_VERSION], "2026-07-28");
    }

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
