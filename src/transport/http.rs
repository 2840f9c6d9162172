//! Streamable HTTP transport: every message the client sends is its own POST
//! to the MCP endpoint; the server answers a request with one JSON object or
//! an SSE stream scoped to it (request-related notifications, then the response).
//!
//! Handshake era (2025-03-26 … 2025-11-25): the server may assign an
//! `Mcp-Session-Id` at `initialize`; it is sent on every later request, a 404
//! for it means the session is gone, and `DELETE` ends it. Stateless era
//! (2026-07-28): no sessions; every POST mirrors the body's protocol version,
//! method and target name in the `MCP-Protocol-Version`, `Mcp-Method` and
//! `Mcp-Name` headers.
//!
//! Responses still go through the [`Correlator`]: a reply that answers another
//! request's id, or answers twice, is counted exactly as on stdio.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyDataStream, BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::Value;
use tokio::sync::oneshot;

use super::connector::{self, Connector, PlainTcp};
use super::correlator::{Correlator, Reply};
use super::http_pool::{HttpVersion, Lent, Pool, PoolError};
use super::oauth::TokenSource;
use super::tls::TlsConnector;
use super::{RawReply, RequestError};
use crate::protocol::http_headers::{MCP_METHOD, PROTOCOL_VERSION, SESSION_ID, message_headers};
use crate::protocol::jsonrpc::{self, Incoming as Message, Params, RawFrame, sample_of};
use crate::protocol::param_headers::ParamHeaders;

/// What the client accepts: the specification requires both.
const ACCEPT_BOTH: &str = "application/json, text/event-stream";
/// Bytes of an error body read to explain a failed exchange.
const ERROR_BODY_BYTES: usize = 64 * 1024;
/// How long the rest of an SSE stream is read after the response arrived, so
/// its connection can go back to the pool (a server should end it at once).
const SSE_DRAIN: Duration = Duration::from_secs(2);
/// How long `DELETE` may take at the end of a run.
const DELETE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach an MCP endpoint over HTTP.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub url: Uri,
    /// Sent on every request (e.g. `Authorization`); values are marked
    /// sensitive and never printed.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Largest reply accepted (a JSON body, or one whole SSE stream).
    pub max_message_bytes: usize,
    /// How `https://` connections are made (`None` for `http://`).
    pub tls: Option<Arc<TlsConnector>>,
    /// OAuth: the token every request carries, kept fresh.
    pub auth: Option<Arc<TokenSource>>,
    /// The HTTP the connections speak.
    pub version: HttpVersion,
}

/// Why a URL or header given on the command line cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("--url {0:?} is not a valid URL")]
    BadUrl(String),
    #[error("--url {0:?}: only http:// and https:// are supported")]
    NotHttp(String),
    #[error("--header {0:?}: expected 'Name: value' with a valid header name and value")]
    BadHeader(String),
}

/// A reply's body could not be read whole: the connection failed, or the
/// body was larger than allowed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BodyError(Box<dyn std::error::Error + Send + Sync>);

/// Parse a `--url` value.
pub fn parse_url(text: &str) -> Result<Uri, HttpSetupError> {
    let url: Uri = text
        .parse()
        .map_err(|_| HttpSetupError::BadUrl(text.to_string()))?;
    match (url.scheme_str(), url.host()) {
        (Some(scheme), Some(_)) if connector::known_scheme(scheme) => Ok(url),
        (Some(_), Some(_)) => Err(HttpSetupError::NotHttp(text.to_string())),
        _ => Err(HttpSetupError::BadUrl(text.to_string())),
    }
}

/// Parse a `--header 'Name: value'`; the value is marked sensitive.
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), HttpSetupError> {
    let bad = || HttpSetupError::BadHeader(redact_header_text(text));
    let (name, value) = text.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    let mut value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// A header as it may be shown: its name, never its value.
fn redact_header_text(text: &str) -> String {
    match text.split_once(':') {
        Some((name, _)) => format!("{}: <redacted>", name.trim()),
        None => "<redacted>".to_string(),
    }
}

struct Inner {
    pool: Pool,
    url: Uri,
    headers: HeaderMap,
    max_message_bytes: usize,
    correlator: Arc<Correlator>,
    /// The handshake era's session, once the server assigned one.
    session: RwLock<Option<HeaderValue>>,
    /// Set after `initialize`: the handshake era's negotiated version, sent
    /// as `MCP-Protocol-Version` on every later request.
    negotiated: RwLock<Option<HeaderValue>>,
    /// The tools' `Mcp-Param-*` declarations (stateless era), learnt once
    /// and shared with sibling clients.
    param_headers: Arc<OnceLock<ParamHeaders>>,
    /// `notifications/cancelled` being sent: the session's end waits for them.
    cancelling: tokio::sync::watch::Sender<usize>,
    /// OAuth: the token every request carries (shared with siblings).
    auth: Option<Arc<TokenSource>>,
}

/// What sibling clients of one endpoint share: the tools' `Mcp-Param-*`
/// declarations, what opens connections and the HTTP they speak, and the
/// OAuth token.
type SharedWithSiblings = (
    Arc<OnceLock<ParamHeaders>>,
    (Arc<dyn Connector>, HttpVersion),
    Option<Arc<TokenSource>>,
);

/// A client of one MCP endpoint, with its own pool of keep-alive connections:
/// as many as there are requests in flight, no hidden cap.
#[derive(Clone)]
pub struct HttpConnection {
    inner: Arc<Inner>,
}

impl HttpConnection {
    /// A client whose wire counters continue `correlator`'s (a restart).
    pub fn new_sharing(options: &HttpOptions, correlator: Arc<Correlator>) -> HttpConnection {
        let mut headers = fixed_headers(&options.headers);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_BOTH));
        let connector = connector_for(&options.url, options.tls.as_ref());
        HttpConnection::with(
            options.url.clone(),
            headers,
            options.max_message_bytes,
            correlator,
            (
                Arc::default(),
                (connector, options.version),
                options.auth.clone(),
            ),
        )
    }

    /// Another client of the same endpoint: its own pool of connections and
    /// its own session, counted with this one (ids never collide).
    pub fn sibling(&self) -> HttpConnection {
        let inner = &self.inner;
        HttpConnection::with(
            inner.url.clone(),
            inner.headers.clone(),
            inner.max_message_bytes,
            inner.correlator.clone(),
            (
                inner.param_headers.clone(),
                (inner.pool.connector(), inner.pool.asked()),
                inner.auth.clone(),
            ),
        )
    }

    fn with(
        url: Uri,
        headers: HeaderMap,
        max_message_bytes: usize,
        correlator: Arc<Correlator>,
        (param_headers, (connector, version), auth): SharedWithSiblings,
    ) -> HttpConnection {
        HttpConnection {
            inner: Arc::new(Inner {
                pool: Pool::speaking(&url, connector, version),
                url,
                headers,
                max_message_bytes,
                correlator,
                session: RwLock::new(None),
                negotiated: RwLock::new(None),
                param_headers,
                cancelling: Default::default(),
                auth,
            }),
        }
    }

    /// With `--http2`, a connection opened before the run: what the server
    /// chose, for the report's notes (`None` when it cannot be reached now:
    /// the first call says why).
    pub async fn http2_note(&self) -> Option<String> {
        let inner = &self.inner;
        if inner.pool.asked() != HttpVersion::Http2 {
            return None;
        }
        let setup = inner.pool.open_ahead().await.ok()??;
        inner.correlator.counters.connection_opened(setup);
        Some(match (setup.http2, setup.tls_resumed.is_some()) {
            (true, true) => "--http2: the server chose HTTP/2 (ALPN); every call is a stream \
                 of one shared connection"
                .to_string(),
            (true, false) => "--http2: HTTP/2 without TLS (h2c, by prior knowledge); every \
                 call is a stream of one shared connection"
                .to_string(),
            (false, _) => "--http2: the server chose HTTP/1.1 (ALPN), so the run speaks \
                 HTTP/1.1: one connection per call in flight"
                .to_string(),
        })
    }

    pub fn url(&self) -> &Uri {
        &self.inner.url
    }

    pub fn correlator(&self) -> Arc<Correlator> {
        self.inner.correlator.clone()
    }

    /// The handshake era's negotiated version, for `MCP-Protocol-Version`.
    pub fn set_protocol_version(&self, version: &str) {
        if let (Ok(value), Ok(mut slot)) = (
            HeaderValue::from_str(version),
            self.inner.negotiated.write(),
        ) {
            *slot = Some(value);
        }
    }

    /// The tools' `x-mcp-header` declarations, mirrored into `Mcp-Param-*`
    /// headers of their calls from now on (by sibling clients too). Set once.
    pub fn set_param_headers(&self, headers: ParamHeaders) {
        let _ = self.inner.param_headers.set(headers);
    }

    /// Whether the server assigned a session that is still open.
    pub fn has_session(&self) -> bool {
        self.inner.session.read().is_ok_and(|s| s.is_some())
    }

    /// Forget the session (before opening a new one).
    pub fn forget_session(&self) {
        if let Ok(mut slot) = self.inner.session.write() {
            *slot = None;
        }
    }

    /// Send a request and wait for its response, at most `timeout`. Giving up
    /// drops the HTTP exchange, which closes its connection: in the stateless
    /// era that is the cancellation signal.
    pub async fn request(
        &self,
        method: &str,
        params: Option<&dyn Params>,
        timeout: Duration,
    ) -> Result<Reply, RequestError> {
        let correlator = &self.inner.correlator;
        let (id, mut reply) = correlator.register();
        let body = jsonrpc::request_line(id, method, params);
        let headers = message_headers(method, params, self.inner.param_headers.get());
        match tokio::time::timeout(timeout, self.exchange(id, body, headers, &mut reply)).await {
            Err(_) => {
                correlator.time_out(id);
                self.cancel(id, method, timeout);
                Err(RequestError::Timeout(timeout))
            }
            Ok(Ok(Some(reply))) => Ok(reply),
            Ok(Ok(None)) => {
                correlator.cancel(id);
                Err(RequestError::Protocol(format!(
                    "the HTTP reply to {method} carried no response for its id"
                )))
            }
            Ok(Err(error)) => {
                correlator.cancel(id);
                if matches!(error, RequestError::Status { .. }) {
                    correlator
                        .counters
                        .http_errors
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(error)
            }
        }
    }

    /// Send a raw frame (a robustness probe) built around a fresh id, and
    /// read what comes back: the response for the id, one without a usable
    /// id, or the refusal status. A refusal is what the probe asks for, so
    /// unlike `request` it does not count as an HTTP error.
    pub async fn probe(
        &self,
        build: impl FnOnce(u64) -> RawFrame,
        timeout: Duration,
    ) -> Result<RawReply, RequestError> {
        let correlator = &self.inner.correlator;
        let (id, mut reply) = correlator.register();
        let mut anonymous = correlator.expect_anonymous();
        let frame = build(id);
        let params = frame.params.as_ref().map(|p| p as &dyn Params);
        let headers = match frame.method.as_deref() {
            Some(method) => message_headers(method, params, self.inner.param_headers.get()),
            // Nothing to mirror but the declared version.
            None => {
                let mut headers = message_headers("", params, None);
                headers.remove(MCP_METHOD);
                headers
            }
        };
        let exchanged =
            tokio::time::timeout(timeout, self.exchange(id, frame.bytes, headers, &mut reply))
                .await;
        correlator.stop_expecting_anonymous();
        let outcome = match exchanged {
            Err(_) => {
                correlator.time_out(id);
                return Err(RequestError::Timeout(timeout));
            }
            Ok(Ok(Some(reply))) => Ok(RawReply::Response(reply.body)),
            Ok(Ok(None)) => match anonymous.try_recv() {
                Ok(reply) => Ok(RawReply::Response(reply.body)),
                Err(_) => Err(RequestError::Protocol(
                    "the HTTP reply carried no JSON-RPC response".into(),
                )),
            },
            Ok(Err(error)) => RawReply::from_failure(error),
        };
        correlator.cancel(id);
        outcome
    }

    /// Send a notification; the server should answer 202 Accepted.
    pub async fn notify(&self, method: &str, params: Option<&Value>) {
        let body = jsonrpc::notification_line(method, params);
        let headers = message_headers(method, params.map(|p| p as &dyn Params), None);
        let answered = tokio::time::timeout(DELETE_TIMEOUT, self.inner.post(body, headers)).await;
        let counters = &self.inner.correlator.counters;
        match answered {
            Ok(Ok(status)) if status.is_success() => {}
            Ok(Ok(status)) => {
                counters.protocol_violation(format!("notification {method} answered HTTP {status}"))
            }
            Ok(Err(error)) => {
                counters.protocol_violation(format!("notification {method}: {error}"))
            }
            Err(_) => counters.protocol_violation(format!(
                "notification {method}: no HTTP answer within {DELETE_TIMEOUT:?}"
            )),
        }
    }

    /// A call given up on: in the handshake era a closed connection is not a
    /// cancellation, and the client sends `notifications/cancelled` (from a
    /// task: the worker goes on at once); in the stateless era the closed
    /// connection is the signal, and nothing is sent.
    fn cancel(&self, id: u64, method: &str, timeout: Duration) {
        let handshake_era = self.inner.negotiated.read().is_ok_and(|n| n.is_some());
        if !handshake_era || !jsonrpc::cancellable(method) {
            return;
        }
        self.inner
            .correlator
            .counters
            .cancellations_sent
            .fetch_add(1, Ordering::Relaxed);
        let connection = self.clone();
        self.inner.cancelling.send_modify(|n| *n += 1);
        tokio::spawn(async move {
            let params = jsonrpc::cancellation(id, timeout);
            connection
                .notify("notifications/cancelled", Some(&params))
                .await;
            connection
                .inner
                .cancelling
                .send_modify(|n| *n = n.saturating_sub(1));
        });
    }

    /// Wait for the cancellations being sent (each bounded by its own
    /// timeout), so that the session is not ended under them.
    pub async fn wait_for_cancellations(&self) {
        let mut cancelling = self.inner.cancelling.subscribe();
        let _ = cancelling.wait_for(|n| *n == 0).await;
    }

    /// End the session with `DELETE`, if the server assigned one. Returns what
    /// the server answered (`None`: there was no session, or no answer).
    pub async fn end_session(&self) -> Option<StatusCode> {
        let inner = &self.inner;
        let session = inner.current_session()?;
        let delete = inner.send_whole(Method::DELETE, Vec::new(), HeaderMap::new(), Some(session));
        let status = tokio::time::timeout(DELETE_TIMEOUT, delete)
            .await
            .ok()?
            .ok()?;
        self.forget_session();
        Some(status)
    }

    /// One POST and its reply; `Some` once the response for this request arrived.
    async fn exchange(
        &self,
        id: u64,
        body: Vec<u8>,
        headers: HeaderMap,
        reply: &mut oneshot::Receiver<Reply>,
    ) -> Result<Option<Reply>, RequestError> {
        let inner = &self.inner;
        // The id sent is the one a 404 refers to: read it once.
        let sent_session = inner.current_session();
        let (response, lent) = inner
            .send(Method::POST, body, headers, sent_session.clone())
            .await?;
        // Opening a connection is not the call's latency: it is counted
        // apart (`connection_opened`), and taken off the answer's time.
        let setup = lent.connection_wait();
        let status = response.status();
        if !status.is_success() {
            return self
                .failed_status(id, (response, lent, setup), sent_session, reply)
                .await;
        }
        inner.adopt_session(&response);
        let content_type = content_type(&response);
        if content_type.starts_with("text/event-stream") {
            return Ok(self
                .read_events(response.into_body(), (lent, setup), reply)
                .await);
        }
        if status == StatusCode::ACCEPTED || status == StatusCode::NO_CONTENT {
            return Err(RequestError::Protocol(format!(
                "HTTP {status} with no body in reply to a request"
            )));
        }
        if !content_type.starts_with("application/json") {
            return Err(RequestError::Protocol(format!(
                "reply has Content-Type {content_type:?}, expected application/json or text/event-stream"
            )));
        }
        let body = inner
            .read_to_end(response.into_body(), lent, inner.max_message_bytes)
            .await
            .map_err(|e| RequestError::Protocol(format!("reading the JSON reply: {e}")))?;
        inner.route(&body, arrived(setup));
        Ok(reply.try_recv().ok())
    }

    /// A non-2xx status: a JSON-RPC error for this request counts as its
    /// answer (e.g. 404 with -32601); otherwise the failure is explained.
    /// Only a body carrying this request's id is routed: some servers answer
    /// every refusal with a made-up id (`"server-error"`), and the status
    /// already says the POST failed, so that is no stray response.
    async fn failed_status(
        &self,
        id: u64,
        (response, lent, setup): (Response<Incoming>, Lent, Duration),
        sent_session: Option<HeaderValue>,
        reply: &mut oneshot::Receiver<Reply>,
    ) -> Result<Option<Reply>, RequestError> {
        let status = response.status();
        let challenge = challenge(response.headers());
        let location = response.headers().get(http::header::LOCATION).cloned();
        let body = self
            .inner
            .read_to_end(response.into_body(), lent, ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        let received_at = arrived(setup);
        let error_message = match jsonrpc::classify(&body) {
            Message::Response {
                id: Some(answered),
                body,
            } if answered.as_u64() == Some(id) => {
                self.inner.correlator.route(
                    Message::Response {
                        id: Some(answered),
                        body,
                    },
                    received_at,
                );
                if let Ok(answer) = reply.try_recv() {
                    return Ok(Some(answer));
                }
                None
            }
            Message::Response {
                body: jsonrpc::ResponseBody::Error(error),
                ..
            } => Some(error),
            _ => None,
        };
        let counters = &self.inner.correlator.counters;
        if let Some(refused) = auth_refusal(status, &challenge) {
            counters.auth_failures.fetch_add(1, Ordering::Relaxed);
            return Err(RequestError::AuthRefused(refused));
        }
        if status == StatusCode::NOT_FOUND
            && let Some(sent) = sent_session
        {
            self.inner.expire_session(&sent);
            counters.sessions_expired.fetch_add(1, Ordering::Relaxed);
            return Err(RequestError::SessionExpired);
        }
        let detail = match (&error_message, location.filter(|_| status.is_redirection())) {
            (_, Some(location)) => format!(
                "a redirect to {}: follow it with --follow-redirects, or give that --url",
                crate::protocol::untrusted::quote(location.to_str().unwrap_or("?"), 200)
            ),
            (Some(error), None) => format!("JSON-RPC error {}: {}", error.code, error.message),
            (None, None) if body.is_empty() => "empty body".to_string(),
            (None, None) => sample_of(&body),
        };
        Err(RequestError::Status {
            status: status.as_u16(),
            code: error_message.map(|error| error.code),
            detail: format!("HTTP {status}: {detail}"),
        })
    }

    /// Read an SSE reply until the response for this request arrives; the
    /// rest of the stream is drained in the background. A stream read to its
    /// end gives its connection back for the next request.
    async fn read_events(
        &self,
        body: Incoming,
        (lent, setup): (Lent, Duration),
        reply: &mut oneshot::Receiver<Reply>,
    ) -> Option<Reply> {
        let max = self.inner.max_message_bytes;
        let mut total = 0usize;
        let bounded = BodyDataStream::new(body).map(move |chunk| match chunk {
            Ok(bytes) => {
                total += bytes.len();
                if total > max {
                    Err(StreamError::TooLarge(max))
                } else {
                    Ok(bytes)
                }
            }
            Err(e) => Err(StreamError::Body(e.to_string())),
        });
        let mut events = Box::pin(bounded.eventsource());
        loop {
            match events.next().await {
                Some(Ok(event)) => self.on_event(&event.data, setup),
                Some(Err(error)) => {
                    self.inner
                        .correlator
                        .counters
                        .protocol_violation(format!("SSE stream: {error}"));
                    return reply.try_recv().ok();
                }
                None => {
                    self.inner.pool.put_back(lent);
                    return reply.try_recv().ok();
                }
            }
            if let Ok(answer) = reply.try_recv() {
                let this = self.clone();
                tokio::spawn(async move {
                    let drain = async {
                        while let Some(event) = events.next().await {
                            let Ok(event) = event else { return false };
                            this.on_event(&event.data, setup);
                        }
                        true
                    };
                    if let Ok(true) = tokio::time::timeout(SSE_DRAIN, drain).await {
                        this.inner.pool.put_back(lent);
                    }
                });
                return Some(answer);
            }
        }
    }

    fn on_event(&self, data: &str, setup: Duration) {
        // An event without data (a priming event, a keep-alive) carries no message.
        if data.trim().is_empty() {
            return;
        }
        if let Some(answer) = self.inner.route(data.as_bytes(), arrived(setup)) {
            // A server request on the stream (handshake era): answer it with a POST.
            let inner = self.inner.clone();
            tokio::spawn(async move {
                let _ = inner.post(answer, HeaderMap::new()).await;
            });
        }
    }
}

/// When an answer arriving now counts as arrived: now, less the time its
/// connection took to open (`setup`, counted apart).
fn arrived(setup: Duration) -> Instant {
    let now = Instant::now();
    now.checked_sub(setup).unwrap_or(now)
}

#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("reply exceeds the {0}-byte limit")]
    TooLarge(usize),
    #[error("{0}")]
    Body(String),
}

impl Inner {
    /// The session id requests carry now.
    fn current_session(&self) -> Option<HeaderValue> {
        self.session.read().ok().and_then(|s| s.clone())
    }

    /// POST one message with the current session; its status once the
    /// reply has been read.
    async fn post(
        &self,
        body: Vec<u8>,
        message_headers: HeaderMap,
    ) -> Result<StatusCode, RequestError> {
        let session = self.current_session();
        self.send_whole(Method::POST, body, message_headers, session)
            .await
    }

    /// One request whose reply matters only by its status (a notification,
    /// `DELETE`); the body is read so its connection can be used again.
    async fn send_whole(
        &self,
        method: Method,
        body: Vec<u8>,
        message_headers: HeaderMap,
        session: Option<HeaderValue>,
    ) -> Result<StatusCode, RequestError> {
        let (response, lent) = self.send(method, body, message_headers, session).await?;
        let status = response.status();
        let _ = self
            .read_to_end(response.into_body(), lent, ERROR_BODY_BYTES)
            .await;
        Ok(status)
    }

    /// A reply's body, up to `max` bytes. Read to its end, its connection
    /// goes back to the pool; cut short, it is closed.
    async fn read_to_end(
        &self,
        body: Incoming,
        lent: Lent,
        max: usize,
    ) -> Result<Bytes, BodyError> {
        let read = Limited::new(body, max)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(BodyError)?;
        self.pool.put_back(lent);
        Ok(read)
    }

    /// One HTTP request to the endpoint: the fixed headers, the session id
    /// given, the negotiated version (unless the message names its own), then
    /// the message's own headers.
    async fn send(
        &self,
        method: Method,
        body: Vec<u8>,
        message_headers: HeaderMap,
        session: Option<HeaderValue>,
    ) -> Result<(Response<Incoming>, Lent), RequestError> {
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = method;
        // The message's own headers win over fixed ones of the same name;
        // they are the map the request keeps (no copy of it per call).
        let mut headers = message_headers;
        for name in self.headers.keys() {
            if !headers.contains_key(name) {
                for value in self.headers.get_all(name) {
                    headers.append(name.clone(), value.clone());
                }
            }
        }
        if let Some(id) = session {
            headers.insert(SESSION_ID, id);
        }
        let token = match &self.auth {
            Some(auth) => {
                let token = auth.header().await;
                headers.insert(http::header::AUTHORIZATION, token.clone());
                Some((auth, token))
            }
            None => None,
        };
        if !headers.contains_key(PROTOCOL_VERSION)
            && let Ok(negotiated) = self.negotiated.read()
            && let Some(version) = negotiated.clone()
        {
            headers.insert(PROTOCOL_VERSION, version);
        }
        *request.headers_mut() = headers;
        let sent = self.pool.send(request).await;
        // A refused token is replaced at once, before the next request.
        if let (Ok((response, _)), Some((auth, token))) = (&sent, token)
            && response.status() == StatusCode::UNAUTHORIZED
        {
            auth.refused(&token);
        }
        if let Ok((_, lent)) = &sent
            && let Some(setup) = lent.setup()
        {
            self.correlator.counters.connection_opened(setup);
        }
        sent.map_err(|error| pool_failure(error, &self.pool, &self.url))
    }

    /// Classify and route one message of a reply.
    fn route(&self, message: &[u8], received_at: Instant) -> Option<Vec<u8>> {
        self.correlator
            .route(jsonrpc::classify(message), received_at)
    }

    /// Keep the session id the server assigned (at `initialize`).
    fn adopt_session(&self, response: &Response<Incoming>) {
        let Some(id) = response.headers().get(SESSION_ID) else {
            return;
        };
        if let Ok(mut slot) = self.session.write()
            && slot.is_none()
        {
            let mut id = id.clone();
            id.set_sensitive(true);
            *slot = Some(id);
        }
    }

    /// The server no longer knows `sent`: drop it, unless another request has
    /// already replaced it with a new session.
    fn expire_session(&self, sent: &HeaderValue) {
        if let Ok(mut slot) = self.session.write()
            && slot.as_ref() == Some(sent)
        {
            *slot = None;
        }
    }
}

/// An answer's `WWW-Authenticate` challenge, if it has one.
pub(super) fn challenge(headers: &HeaderMap) -> Option<HeaderValue> {
    headers.get(http::header::WWW_AUTHENTICATE).cloned()
}

/// A refusal of the request's credentials, said as such: 401, or 403 with
/// a `WWW-Authenticate` challenge (insufficient scope).
pub(super) fn auth_refusal(status: StatusCode, challenge: &Option<HeaderValue>) -> Option<String> {
    let challenge = challenge.as_ref().and_then(|c| c.to_str().ok());
    let refused = status == StatusCode::UNAUTHORIZED
        || (status == StatusCode::FORBIDDEN && challenge.is_some());
    refused.then(|| match challenge {
        Some(challenge) => format!(
            "authentication refused: HTTP {status} (WWW-Authenticate: {})",
            crate::protocol::untrusted::quote(challenge, 200)
        ),
        None => format!("authentication refused: HTTP {status}"),
    })
}

/// A response's `Content-Type`, lower case (empty when absent or not text).
pub(super) fn content_type(response: &Response<Incoming>) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The headers given for every request (values marked sensitive when given).
pub(super) fn fixed_headers(given: &[(HeaderName, HeaderValue)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in given {
        headers.append(name.clone(), value.clone());
    }
    headers
}

/// What opens connections to `url`: the run's TLS connector for
/// `https://` (the endpoint made one for an https URL), plain TCP otherwise.
pub(super) fn connector_for(url: &Uri, tls: Option<&Arc<TlsConnector>>) -> Arc<dyn Connector> {
    match tls {
        Some(tls) if url.scheme_str() == Some(tls.scheme()) => tls.clone(),
        _ => Arc::new(PlainTcp),
    }
}

/// An exchange with `url` through `pool` that failed, as a request error
/// a user can act on: mcpstorm's own descriptor limit, or what failed.
pub(super) fn pool_failure(error: PoolError, pool: &Pool, url: &Uri) -> RequestError {
    match &error {
        PoolError::Connect { source, .. } if super::fd_limit::is_exhaustion(source) => {
            RequestError::LocalLimit(format!(
                "mcpstorm ran out of file descriptors ({source}; its limit is {}): \
                 raise `ulimit -n` or lower the load",
                super::fd_limit::own().map_or("unknown".to_string(), |n| n.to_string())
            ))
        }
        _ => {
            let mut text = describe_client_error(&error, url);
            if let Some(hint) = pool.failure_hint() {
                text.push_str(&format!(" ({hint})"));
            }
            RequestError::Http(text)
        }
    }
}

/// A client error as a user can act on it: "connection refused" says more
/// than hyper's outer "client error (Connect)".
fn describe_client_error(error: &PoolError, url: &Uri) -> String {
    let mut text = format!("HTTP request to {url} failed");
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_headers_are_checked_and_values_never_shown() {
        assert!(parse_url("http://127.0.0.1:8080/mcp").is_ok());
        assert!(parse_url("https://example.com/mcp").is_ok());
        assert!(matches!(
            parse_url("ftp://example.com/mcp"),
            Err(HttpSetupError::NotHttp(_))
        ));
        assert!(parse_url("not a url").is_err());
        let (name, value) = parse_header("Authorization: Bearer s3cret").unwrap();
        assert_eq!(name, "authorization");
        assert!(value.is_sensitive());
        let error = parse_header("Bad Name: s3cret").unwrap_err().to_string();
        assert!(!error.contains("s3cret"), "{error}");
    }
}
