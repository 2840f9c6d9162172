//! `mcpstorm serve --http ADDR`: the built-in target over Streamable HTTP
//! (or, with `--legacy-sse`, the deprecated HTTP+SSE: `http/legacy_sse.rs`).
//!
//! Both eras, as the specification shapes them: handshake-era requests live
//! in sessions (`Mcp-Session-Id` minted at `initialize`, 404 once unknown,
//! ended by `DELETE`); stateless-era requests carry their version in `_meta`
//! and must mirror it, the method and the name in headers (else 400 with
//! `HeaderMismatch`). Session knobs make the faults a client must survive:
//! sessions that expire, and sessions that leak memory even when closed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use clap::Args;
use http::header::{CONTENT_TYPE, HeaderValue, ORIGIN};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::faults::{FaultKnobs, FaultState};
use super::memory::{Arena, ResidentBlock};
use super::{ClientMessage, era, handle_request, handlers};
use crate::protocol::http_headers::{
    MCP_METHOD, MCP_NAME, PROTOCOL_VERSION, SESSION_ID, header_text, mirrored_name,
};
use crate::protocol::jsonrpc::{self, RpcError, codes};
use crate::protocol::param_headers::{ParamHeaders, value_text};

mod legacy_sse;
mod oauth;

/// Largest body read at the authorization server's endpoints.
const OAUTH_BODY: usize = 64 * 1024;

/// The MCP endpoint's path.
pub const ENDPOINT: &str = "/mcp";
/// Largest request body read.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// State every open session holds, freed when it is closed: the baseline a
/// session-churn test must see come back.
const SESSION_STATE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Default, Args)]
pub struct HttpServeArgs {
    /// Serve Streamable HTTP on ADDR instead of stdio (127.0.0.1:0 picks a
    /// free port); the endpoint's URL is printed on stdout.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Over HTTP: answer every request with an SSE stream instead of a JSON body.
    #[arg(long)]
    pub sse: bool,
    /// Over HTTP: every session (handshake era), or every connection that
    /// carries stateless requests, keeps this many KB that closing it does
    /// not free (a session leak, the kind session churn must catch).
    #[arg(long, value_name = "KB", default_value_t = 0)]
    pub session_leak_kb: u64,
    /// Over HTTP: forget a session after N requests in it; the client then
    /// gets 404 and must initialize again.
    #[arg(long, value_name = "N")]
    pub session_expire_after: Option<u64>,
    /// Over HTTP: hold at most N sessions at once (a server out of session
    /// slots): an `initialize` beyond them, a stateless request on a
    /// connection beyond N carrying them, or a `--legacy-sse` stream beyond
    /// N, is answered 503.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_sessions: Option<u64>,
    /// Over HTTP: answer 401 unless the request has `Authorization: Bearer TOKEN`.
    #[arg(long, value_name = "TOKEN")]
    pub require_bearer: Option<String>,
    /// Over HTTP: speak the deprecated HTTP+SSE transport (2024-11-05,
    /// handshake era only): a GET stream at /sse names where to POST
    /// messages, and the answers come back on the stream.
    #[arg(long, requires = "http", conflicts_with = "sse")]
    pub legacy_sse: bool,
    /// Over HTTP: protect the MCP endpoint (with --legacy-sse, the stream
    /// and where messages are POSTed) with OAuth, as its own
    /// authorization server for this one client (`ID:SECRET`, the
    /// client-credentials grant): metadata at
    /// /.well-known/oauth-protected-resource/mcp and
    /// /.well-known/oauth-authorization-server, tokens from /token, 401 with
    /// WWW-Authenticate for a request without a valid one. For tests.
    #[arg(
        long,
        value_name = "ID:SECRET",
        requires = "http",
        conflicts_with = "require_bearer"
    )]
    pub oauth_client: Option<String>,
    /// With --oauth-client: how long a token is valid, in seconds.
    #[arg(long, value_name = "S", default_value_t = 3600.0)]
    pub oauth_token_lifetime_s: f64,
    /// Over HTTP: answer requests for PATH with a redirect to LOCATION
    /// (`PATH=LOCATION`, repeatable; status --redirect-status).
    #[arg(long, value_name = "PATH=LOCATION", value_parser = redirect_rule)]
    pub redirect: Vec<(String, String)>,
    /// The status of --redirect's answers.
    #[arg(long, value_name = "STATUS", default_value_t = 308, value_parser = clap::value_parser!(u16).range(300..400))]
    pub redirect_status: u16,
    /// With --oauth-client: refuse a token once it has been used N times,
    /// although it has not expired (as a revoked token is).
    #[arg(long, value_name = "N")]
    pub oauth_revoke_after: Option<u64>,
    /// Over HTTP: speak HTTP/1.1 alone: no HTTP/2 in TLS's ALPN, no h2c
    /// by prior knowledge (a server a client's --http2 must fall back from).
    #[arg(long, requires = "http")]
    pub http1_only: bool,
    #[command(flatten)]
    pub tls: super::tls::TlsServeArgs,
}

struct SessionState {
    requests: u64,
    /// Freed with the session.
    _state: Option<ResidentBlock>,
}

/// What the target remembers of one TCP connection.
#[derive(Default)]
struct ConnectionState {
    /// `--session-leak-kb` already taken for this connection (stateless era).
    leaked: std::sync::atomic::AtomicBool,
    /// It counts among the stateless connections `--max-sessions` bounds.
    counted: std::sync::atomic::AtomicBool,
}

struct Server {
    state: FaultState,
    args: HttpServeArgs,
    sessions: Mutex<HashMap<String, SessionState>>,
    /// Connections carrying stateless requests, open now.
    stateless_connections: AtomicU64,
    /// What `--session-leak-kb` keeps: never freed.
    leaked: Mutex<Arena>,
    /// `--legacy-sse`: the open streams, by session id.
    streams: legacy_sse::Streams,
    /// `--oauth-client`: the authorization server, and the tokens it issued.
    oauth: Option<oauth::OAuth>,
}

/// Serve MCP over Streamable HTTP until the process is stopped.
pub async fn serve_http(knobs: FaultKnobs, args: HttpServeArgs) -> std::io::Result<()> {
    let Some(address) = args.http else {
        return Ok(());
    };
    let tls = super::tls::acceptor(&args.tls, !args.http1_only)?;
    let handshake_delay = std::time::Duration::from_millis(args.tls.tls_accept_delay_ms);
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        eprintln!(
            "mcpstorm serve: warning: listening on {bound}, beyond loopback; \
             the target has no authentication"
        );
    }
    // The line mcpstorm (and a person) reads the address from.
    let scheme = if tls.is_some() { "https" } else { "http" };
    let path = if args.legacy_sse {
        legacy_sse::SSE_PATH
    } else {
        ENDPOINT
    };
    println!("mcpstorm serve: listening on {scheme}://{bound}{path}");
    use std::io::Write;
    std::io::stdout().flush()?;
    let oauth = match &args.oauth_client {
        Some(client) => Some(
            oauth::OAuth::new(
                client,
                args.oauth_token_lifetime_s,
                args.oauth_revoke_after,
                (format!("{scheme}://{bound}"), path),
            )
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "--oauth-client takes ID:SECRET",
                )
            })?,
        ),
        None => None,
    };
    let mut knobs = knobs;
    if args.legacy_sse {
        // The transport of 2024-11-05 carries the handshake era alone.
        knobs.era = era::Eras::Handshake;
    }
    let server = Arc::new(Server {
        state: FaultState::new(knobs),
        args,
        sessions: Mutex::new(HashMap::new()),
        stateless_connections: AtomicU64::new(0),
        leaked: Mutex::new(Arena::default()),
        streams: Default::default(),
        oauth,
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        let tls = tls.clone();
        let http1_only = server.args.http1_only;
        tokio::spawn(async move {
            match tls {
                // A client that fails its handshake is dropped: its
                // connection never reaches HTTP.
                Some(tls) => {
                    tokio::time::sleep(handshake_delay).await;
                    if let Ok(stream) = tls.accept(stream).await {
                        serve_connection(server, stream, http1_only).await;
                    }
                }
                None => serve_connection(server, stream, http1_only).await,
            }
        });
    }
}

/// Serve one connection's requests until it closes: HTTP/1.1, or HTTP/2
/// when the client opens with its preface (chosen in ALPN, or h2c by prior
/// knowledge), unless `http1_only`.
async fn serve_connection<S>(server: Arc<Server>, stream: S, http1_only: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let connection = Arc::new(ConnectionState::default());
    let service = service_fn({
        let (server, connection) = (server.clone(), connection.clone());
        move |request| {
            let server = server.clone();
            let connection = connection.clone();
            async move { Ok::<_, Infallible>(server.handle(request, &connection).await) }
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if http1_only {
        builder = builder.http1_only();
    }
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if connection.counted.load(Ordering::Relaxed) {
        server.stateless_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A reply's body: whole, or (an HTTP+SSE stream) as it comes.
type Body = UnsyncBoxBody<Bytes, Infallible>;
type Reply = Response<Body>;

fn whole(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

fn status_only(status: StatusCode) -> Reply {
    let mut reply = Response::new(whole(Bytes::new()));
    *reply.status_mut() = status;
    reply
}

fn json_reply(status: StatusCode, line: Vec<u8>) -> Reply {
    let mut reply = Response::new(whole(line));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

fn error_reply(status: StatusCode, id: &Value, code: i64, message: impl Into<String>) -> Reply {
    json_reply(
        status,
        jsonrpc::response_line(id, Err(RpcError::new(code, message))),
    )
}

/// An SSE stream: each message its own event, the response last.
fn sse_reply(messages: &[Vec<u8>]) -> Reply {
    let mut body = Vec::new();
    for message in messages {
        body.extend_from_slice(b"event: message\ndata: ");
        body.extend_from_slice(message.trim_ascii_end());
        body.extend_from_slice(b"\n\n");
    }
    let mut reply = Response::new(whole(body));
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    reply
}

/// Only pages of this machine may call a local server (DNS rebinding).
fn origin_allowed(origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let host = if rest.starts_with('[') {
        rest.split_inclusive(']').next().unwrap_or(rest)
    } else {
        rest.split([':', '/']).next().unwrap_or(rest)
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

impl Server {
    async fn handle(
        self: &Arc<Self>,
        request: Request<Incoming>,
        connection: &ConnectionState,
    ) -> Reply {
        let legacy = self.args.legacy_sse;
        if let Some((_, location)) = self
            .args
            .redirect
            .iter()
            .find(|(path, _)| path == request.uri().path())
        {
            let status = StatusCode::from_u16(self.args.redirect_status)
                .unwrap_or(StatusCode::PERMANENT_REDIRECT);
            let mut reply = status_only(status);
            if let Ok(value) = HeaderValue::from_str(location) {
                reply.headers_mut().insert(http::header::LOCATION, value);
            }
            return reply;
        }
        if let Some(oauth) = &self.oauth {
            let protected = match legacy {
                true => legacy_sse::is_transport_path(request.uri().path()),
                false => request.uri().path() == ENDPOINT,
            };
            if !protected {
                let (parts, body) = request.into_parts();
                let body = match Limited::new(body, OAUTH_BODY).collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(_) => return status_only(StatusCode::PAYLOAD_TOO_LARGE),
                };
                return oauth
                    .serve(&parts.method, parts.uri.path(), &parts.headers, &body)
                    .unwrap_or_else(|| status_only(StatusCode::NOT_FOUND));
            }
            if let Some(refusal) = oauth.refuse(request.headers()) {
                return refusal;
            }
        }
        if !legacy && request.uri().path() != ENDPOINT {
            return status_only(StatusCode::NOT_FOUND);
        }
        if let Some(origin) = request.headers().get(ORIGIN)
            && !origin_allowed(origin)
        {
            return error_reply(
                StatusCode::FORBIDDEN,
                &Value::Null,
                codes::INVALID_REQUEST,
                "Forbidden: Origin not allowed",
            );
        }
        if let Some(token) = &self.args.require_bearer {
            let expected = format!("Bearer {token}");
            let given = request.headers().get(http::header::AUTHORIZATION);
            if given.and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
                return error_reply(
                    StatusCode::UNAUTHORIZED,
                    &Value::Null,
                    codes::INVALID_REQUEST,
                    "Unauthorized: a valid bearer token is required",
                );
            }
        }
        if legacy {
            return legacy_sse::handle(self, request).await;
        }
        match *request.method() {
            Method::POST => self.post(request, connection).await,
            Method::DELETE => self.delete(&request),
            _ => status_only(StatusCode::METHOD_NOT_ALLOWED),
        }
    }

    fn delete(&self, request: &Request<Incoming>) -> Reply {
        let Some(id) = session_of(request) else {
            return status_only(StatusCode::BAD_REQUEST);
        };
        let removed = self.sessions.lock().ok().and_then(|mut s| s.remove(&id));
        match removed {
            Some(_) => status_only(StatusCode::OK),
            None => status_only(StatusCode::NOT_FOUND),
        }
    }

    /// A POSTed message, read within the size limit (`--fragile` crashing
    /// on a huge one) and parsed; the refusal to answer otherwise.
    async fn read_message(&self, body: Incoming) -> Result<Value, Reply> {
        let Ok(body) = Limited::new(body, MAX_BODY).collect().await else {
            return Err(error_reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                &Value::Null,
                codes::INVALID_REQUEST,
                "request body too large",
            ));
        };
        let body = body.to_bytes();
        if self.state.crashes_on(body.len()) {
            super::crash_on_huge_request(body.len());
        }
        serde_json::from_slice::<Value>(&body).map_err(|_| {
            error_reply(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                codes::PARSE_ERROR,
                "Parse error",
            )
        })
    }

    async fn post(&self, request: Request<Incoming>, connection: &ConnectionState) -> Reply {
        let (parts, body) = request.into_parts();
        let message = match self.read_message(body).await {
            Ok(message) => message,
            Err(refusal) => return refusal,
        };
        let (id, method) = match ClientMessage::of(&message, self.state.fragile()) {
            ClientMessage::Request { id, method } => (id, method),
            // A notification, or a response to a server request: accepted.
            ClientMessage::Notification | ClientMessage::Response => {
                super::log_cancellation(&message);
                return status_only(StatusCode::ACCEPTED);
            }
            ClientMessage::Invalid => {
                return error_reply(
                    StatusCode::BAD_REQUEST,
                    &Value::Null,
                    codes::INVALID_REQUEST,
                    "Invalid Request",
                );
            }
        };
        let params = message.get("params");
        let headers = &parts.headers;
        let mut new_session = None;
        let declared = era::declared_version(params);
        if let Some(version) = declared {
            if let Err(mismatch) = check_mirrored_headers(headers, version, method, params) {
                return error_reply(
                    StatusCode::BAD_REQUEST,
                    &id,
                    codes::HEADER_MISMATCH,
                    mismatch,
                );
            }
            if let Some(refused) = self.count_stateless(connection, &id) {
                return refused;
            }
            if !connection.leaked.swap(true, Ordering::Relaxed) {
                self.leak_for_session();
            }
        } else if method == "initialize" {
            if let Some(refused) = self.session_room(&id) {
                return refused;
            }
            new_session = Some(self.open_session());
        } else if let Some(refused) = self.enter_session(headers) {
            return refused;
        }
        let (outbox, mut inbox) = mpsc::unbounded_channel();
        let (answer, _faults) = handle_request(method, params, &self.state, &outbox).await;
        drop(outbox);
        let status = match &answer {
            Err(error) if error.code == codes::UNSUPPORTED_PROTOCOL_VERSION => {
                StatusCode::BAD_REQUEST
            }
            // The stateless era answers an unknown method with 404.
            Err(error) if error.code == codes::METHOD_NOT_FOUND && declared.is_some() => {
                StatusCode::NOT_FOUND
            }
            _ => StatusCode::OK,
        };
        if answer.is_err() {
            // A refused initialize opens no session.
            if let Some(session) = new_session.take()
                && let Ok(mut sessions) = self.sessions.lock()
            {
                sessions.remove(&session);
            }
        }
        let response = jsonrpc::response_line(&id, answer);
        let mut notifications = Vec::new();
        while let Ok(line) = inbox.try_recv() {
            notifications.push(line);
        }
        let mut reply = if status == StatusCode::OK && (self.args.sse || !notifications.is_empty())
        {
            notifications.push(response);
            sse_reply(&notifications)
        } else {
            json_reply(status, response)
        };
        if let Some(session) = new_session
            && let Ok(value) = HeaderValue::from_str(&session)
        {
            reply.headers_mut().insert(SESSION_ID, value);
        }
        reply
    }

    /// `--max-sessions` in the handshake era: the refusal of an
    /// `initialize` when every slot is taken.
    fn session_room(&self, id: &Value) -> Option<Reply> {
        let most = self.args.max_sessions?;
        let held = self.sessions.lock().map_or(0, |s| s.len() as u64);
        (held >= most).then(|| out_of_slots(id, most))
    }

    /// `--max-sessions` in the stateless era: a connection's first request
    /// takes a slot (freed when it closes), or is refused.
    fn count_stateless(&self, connection: &ConnectionState, id: &Value) -> Option<Reply> {
        let most = self.args.max_sessions?;
        if connection.counted.load(Ordering::Relaxed) {
            return None;
        }
        let taken =
            self.stateless_connections
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                    (held < most).then_some(held + 1)
                });
        match taken {
            Ok(_) => {
                connection.counted.store(true, Ordering::Relaxed);
                None
            }
            Err(_) => Some(out_of_slots(id, most)),
        }
    }

    fn leak_for_session(&self) {
        if self.args.session_leak_kb > 0
            && let Ok(mut leaked) = self.leaked.lock()
        {
            leaked.keep((self.args.session_leak_kb * 1024) as usize);
        }
    }

    fn open_session(&self) -> String {
        let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        self.leak_for_session();
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.insert(
                id.clone(),
                SessionState {
                    requests: 0,
                    _state: ResidentBlock::new(SESSION_STATE_BYTES),
                },
            );
        }
        id
    }

    /// A handshake-era request after `initialize`: it must name a live
    /// session; the refusal when it does not.
    fn enter_session(&self, headers: &http::HeaderMap) -> Option<Reply> {
        let Some(id) = headers.get(SESSION_ID).and_then(|v| v.to_str().ok()) else {
            return Some(error_reply(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                codes::INVALID_REQUEST,
                "Bad Request: no Mcp-Session-Id; send initialize first",
            ));
        };
        let Ok(mut sessions) = self.sessions.lock() else {
            return Some(status_only(StatusCode::INTERNAL_SERVER_ERROR));
        };
        let Some(session) = sessions.get_mut(id) else {
            return Some(error_reply(
                StatusCode::NOT_FOUND,
                &Value::Null,
                codes::INVALID_REQUEST,
                "Session not found",
            ));
        };
        session.requests += 1;
        if self
            .args
            .session_expire_after
            .is_some_and(|n| session.requests > n)
        {
            sessions.remove(id);
            return Some(error_reply(
                StatusCode::NOT_FOUND,
                &Value::Null,
                codes::INVALID_REQUEST,
                "Session expired",
            ));
        }
        None
    }
}

/// `--max-sessions`' refusal.
fn out_of_slots(id: &Value, most: u64) -> Reply {
    error_reply(
        StatusCode::SERVICE_UNAVAILABLE,
        id,
        codes::INTERNAL_ERROR,
        format!("Service Unavailable: this server holds at most {most} sessions"),
    )
}

/// `--redirect PATH=LOCATION`.
fn redirect_rule(text: &str) -> Result<(String, String), String> {
    let (path, location) = text
        .split_once('=')
        .filter(|(path, location)| path.starts_with('/') && !location.is_empty())
        .ok_or_else(|| format!("expected PATH=LOCATION, PATH starting with /, got {text:?}"))?;
    Ok((path.to_string(), location.to_string()))
}

fn session_of(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get(SESSION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The stateless era's rule: `MCP-Protocol-Version`, `Mcp-Method` and (for
/// calls, reads and prompts) `Mcp-Name` must be present and match the body.
fn check_mirrored_headers(
    headers: &http::HeaderMap,
    version: &str,
    method: &str,
    params: Option<&Value>,
) -> Result<(), String> {
    let header = |name: &http::HeaderName| headers.get(name).and_then(header_text);
    let expect = |name: &http::HeaderName, body: &str| match header(name) {
        Some(value) if value == body => Ok(()),
        Some(value) => Err(format!(
            "Header mismatch: {name} header value '{value}' does not match body value '{body}'"
        )),
        None => Err(format!(
            "Header mismatch: required header {name} is missing"
        )),
    };
    expect(&PROTOCOL_VERSION, version)?;
    expect(&MCP_METHOD, method)?;
    if let Some(name) = mirrored_name(method, params) {
        expect(&MCP_NAME, name)?;
        if method == "tools/call" {
            // A declared argument present in the body must be in its header;
            // a null or absent one must not be expected.
            let arguments = params.and_then(|p| p.get("arguments"));
            for binding in declared_param_headers().bindings(name) {
                if let Some(body) = binding.value_in(arguments).and_then(value_text) {
                    expect(&binding.header, &body)?;
                }
            }
        }
    }
    Ok(())
}

/// The target's own tools' `x-mcp-header` declarations.
fn declared_param_headers() -> &'static ParamHeaders {
    static DECLARED: OnceLock<ParamHeaders> = OnceLock::new();
    DECLARED.get_or_init(|| {
        let tools = handlers::tools_list();
        let tools = tools["tools"].as_array().cloned().unwrap_or_default();
        let declared = tools
            .iter()
            .filter_map(|tool| Some((tool.get("name")?.as_str()?, tool.get("inputSchema")?)));
        ParamHeaders::from_tools(declared).0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_origins_are_allowed() {
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "https://[::1]:8080",
        ] {
            assert!(origin_allowed(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://127.0.0.1.evil.example:80",
            "null",
        ] {
            assert!(!origin_allowed(&HeaderValue::from_static(bad)), "{bad}");
        }
    }

    #[test]
    fn mirrored_headers_must_match_the_body() {
        let mut headers = http::HeaderMap::new();
        headers.insert(&PROTOCOL_VERSION, HeaderValue::from_static("2026-07-28"));
        headers.insert(&MCP_METHOD, HeaderValue::from_static("tools/call"));
        let params = serde_json::json!({"name": "echo"});
        let missing = check_mirrored_headers(&headers, "2026-07-28", "tools/call", Some(&params));
        assert!(missing.unwrap_err().contains("mcp-name"));
        headers.insert(&MCP_NAME, HeaderValue::from_static("add"));
        let wrong = check_mirrored_headers(&headers, "2026-07-28", "tools/call", Some(&params));
        assert!(wrong.unwrap_err().contains("'add'"));
        headers.insert(&MCP_NAME, HeaderValue::from_static("echo"));
        assert!(
            check_mirrored_headers(&headers, "2026-07-28", "tools/call", Some(&params)).is_ok()
        );
    }
}
