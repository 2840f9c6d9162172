//! The deprecated HTTP+SSE transport (protocol 2024-11-05), which servers
//! still deployed speak: the client opens a GET stream at the SSE URL; the
//! server's first event, `endpoint`, names the URI every client message is
//! POSTed to; the server's messages (responses among them) come back as
//! `message` events on that stream. The stream is the session: when it ends,
//! the session is gone and the next call opens a new one.
//!
//! A call's latency runs from its POST to its response's event, as over
//! stdio; answers go through the [`Correlator`] the same way.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyDataStream, BodyExt, Full, Limited};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

mod stream_rules;

pub use stream_rules::OpenError;
use stream_rules::{EventBound, StreamError, resolve};

use super::connector::Connector;
use super::correlator::{Correlator, Reply};
use super::http::{auth_refusal, challenge, content_type, pool_failure};
use super::http_pool::Pool;
use super::oauth::TokenSource;
use super::{RawReply, RequestError};
use crate::protocol::jsonrpc::{self, Params, RawFrame, sample_of};

/// Bytes of a POST's reply read (it should be empty, or `Accepted`).
const POST_REPLY_BYTES: usize = 64 * 1024;
/// How long a notification's POST may take.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach a server over HTTP+SSE.
pub struct SseOptions {
    pub url: Uri,
    /// Sent with every request (e.g. `Authorization`), never printed.
    pub headers: HeaderMap,
    /// Largest message accepted (one event's data).
    pub max_message_bytes: usize,
    pub connector: Arc<dyn Connector>,
    /// How long the stream gets to name its endpoint.
    pub open_timeout: Duration,
    /// OAuth: the token the stream's GET and every POST carry, kept fresh.
    pub auth: Option<Arc<TokenSource>>,
}

/// `headers` with the OAuth token, when there is one; and the token, to be
/// refused if the server refuses it.
async fn with_token(
    headers: &HeaderMap,
    auth: Option<&Arc<TokenSource>>,
) -> (HeaderMap, Option<HeaderValue>) {
    let mut headers = headers.clone();
    let token = match auth {
        Some(auth) => {
            let token = auth.header().await;
            headers.insert(http::header::AUTHORIZATION, token.clone());
            Some(token)
        }
        None => None,
    };
    (headers, token)
}

/// One open stream: where its messages go, and whether it has ended.
pub struct Stream {
    posts: Arc<Pool>,
    post_url: Uri,
    /// Why the stream ended, once it has: what the calls still owed an
    /// answer on it fail with.
    ended: watch::Receiver<Option<RequestError>>,
    /// Reads the stream; aborted when the stream is dropped.
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Stream {
    fn has_ended(&self) -> Option<RequestError> {
        self.ended.borrow().clone()
    }
}

/// A client of one HTTP+SSE server: one stream (one session) at a time.
pub struct SseClient {
    options: Arc<SseOptions>,
    correlator: Arc<Correlator>,
    /// The stream calls go on (the session), once opened.
    current: Mutex<Option<Arc<Stream>>>,
    /// Held while a stream opens: concurrent calls wait for that one.
    opening: tokio::sync::Mutex<()>,
}

impl SseClient {
    pub fn new(options: SseOptions, correlator: Arc<Correlator>) -> SseClient {
        SseClient::sharing(Arc::new(options), correlator)
    }

    fn sharing(options: Arc<SseOptions>, correlator: Arc<Correlator>) -> SseClient {
        SseClient {
            options,
            correlator,
            current: Default::default(),
            opening: Default::default(),
        }
    }

    /// Another client of the same server, with its own stream (session),
    /// counted with this one.
    pub fn sibling(&self) -> SseClient {
        SseClient::sharing(self.options.clone(), self.correlator.clone())
    }

    pub fn url(&self) -> &Uri {
        &self.options.url
    }

    pub fn correlator(&self) -> Arc<Correlator> {
        self.correlator.clone()
    }

    /// A stream is open and has not ended.
    pub fn has_session(&self) -> bool {
        self.live().is_some()
    }

    /// Drop the stream: once the calls on it are done its connection
    /// closes, and the server sees the session end.
    pub fn forget_session(&self) {
        if let Ok(mut current) = self.current.lock() {
            *current = None;
        }
    }

    fn live(&self) -> Option<Arc<Stream>> {
        let current = self.current.lock().ok()?;
        current
            .as_ref()
            .filter(|stream| stream.has_ended().is_none())
            .cloned()
    }

    /// The open stream, or a new one (a new session) when there is none or
    /// it has ended.
    pub async fn stream(&self) -> Result<Arc<Stream>, OpenError> {
        if let Some(stream) = self.live() {
            return Ok(stream);
        }
        let _one_at_a_time = self.opening.lock().await;
        if let Some(stream) = self.live() {
            return Ok(stream);
        }
        let stream = Arc::new(self.open_stream().await?);
        if let Ok(mut current) = self.current.lock() {
            *current = Some(stream.clone());
        }
        Ok(stream)
    }

    async fn open_stream(&self) -> Result<Stream, OpenError> {
        let options = &self.options;
        let url = options.url.to_string();
        let pool = Pool::new(&options.url, options.connector.clone());
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.method_mut() = Method::GET;
        let (mut headers, token) = with_token(&options.headers, options.auth.as_ref()).await;
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        *request.headers_mut() = headers;
        let opened = tokio::time::timeout(options.open_timeout, pool.send(request)).await;
        let (response, lent) = match opened {
            Err(_) => {
                return Err(OpenError::NoEndpoint {
                    url,
                    waited: options.open_timeout,
                });
            }
            Ok(sent) => {
                sent.map_err(|e| OpenError::Request(pool_failure(e, &pool, &options.url)))?
            }
        };
        if let Some(setup) = lent.setup() {
            self.correlator.counters.connection_opened(setup);
        }
        let status = response.status();
        if let Some(refused) = auth_refusal(status, &challenge(response.headers())) {
            self.refused(token.as_ref(), status);
            return Err(OpenError::Request(RequestError::AuthRefused(refused)));
        }
        if let Some(location) = response
            .headers()
            .get(http::header::LOCATION)
            .filter(|_| status.is_redirection())
        {
            let location = String::from_utf8_lossy(location.as_bytes());
            let location = crate::protocol::untrusted::quote(&location, 200);
            return Err(OpenError::Redirected {
                url,
                status,
                location,
            });
        }
        if !status.is_success() {
            return Err(OpenError::Status { url, status });
        }
        let content_type = content_type(&response);
        if !content_type.starts_with("text/event-stream") {
            return Err(OpenError::NotAStream { url, content_type });
        }
        let max = options.max_message_bytes;
        let mut bound = EventBound::new(max);
        let bytes = BodyDataStream::new(response.into_body()).map(move |chunk| match chunk {
            Ok(bytes) => bound.check(&bytes).map(|()| bytes),
            Err(e) => Err(StreamError::Body(e.to_string())),
        });
        let mut events = Box::pin(bytes.eventsource());
        // The first event names where messages go.
        let first = tokio::time::timeout(options.open_timeout, async {
            loop {
                match events.next().await {
                    Some(Ok(event)) if event.event == "endpoint" => return Ok(event.data),
                    // Anything before it (a comment, a keep-alive) is skipped.
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(Some(e.to_string())),
                    None => return Err(None),
                }
            }
        })
        .await;
        let named = match first {
            Err(_) => {
                return Err(OpenError::NoEndpoint {
                    url,
                    waited: options.open_timeout,
                });
            }
            Ok(Err(why)) => return Err(OpenError::EndedEarly { url, why }),
            Ok(Ok(named)) => named,
        };
        let post_url = resolve(&options.url, named.trim())?;
        let (ended_tx, ended) = watch::channel(None);
        let correlator = self.correlator.clone();
        let posts = Arc::new(Pool::new(&post_url, options.connector.clone()));
        let answers = Answers::new(posts.clone(), self.options.clone());
        let reader = tokio::spawn(async move {
            // The GET's connection is held for the stream's life.
            let _connection = lent;
            let why = loop {
                match events.next().await {
                    Some(Ok(event)) => {
                        if event.event != "message" && !event.event.is_empty() {
                            continue;
                        }
                        if event.data.trim().is_empty() {
                            continue;
                        }
                        let routed = correlator
                            .route(jsonrpc::classify(event.data.as_bytes()), Instant::now());
                        if let Some(answer) = routed {
                            answers.send(answer, &correlator);
                        }
                    }
                    // An event over the limit breaks the transport's rules;
                    // a connection that fails is the network's doing.
                    Some(Err(eventsource_stream::EventStreamError::Transport(
                        StreamError::TooLarge(max),
                    ))) => {
                        let why = format!("an SSE event exceeds the {max}-byte message limit");
                        correlator.counters.protocol_violation(why.clone());
                        break RequestError::Protocol(why);
                    }
                    Some(Err(e)) => {
                        correlator
                            .counters
                            .protocol_violation(format!("SSE stream: {e}"));
                        break RequestError::Http(format!("the SSE stream failed: {e}"));
                    }
                    None => break RequestError::Http("the server ended the SSE stream".into()),
                }
            };
            let _ = ended_tx.send(Some(why));
        });
        Ok(Stream {
            posts,
            post_url,
            ended,
            reader,
        })
    }

    /// Send a request and wait for its response on the stream, at most
    /// `timeout`.
    pub async fn request(
        &self,
        method: &str,
        params: Option<&dyn Params>,
        timeout: Duration,
    ) -> Result<Reply, RequestError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let stream = self.stream_by(deadline, timeout).await?;
        let correlator = &self.correlator;
        let (id, reply) = correlator.register();
        let body = jsonrpc::request_line(id, method, params);
        let answer = tokio::time::timeout_at(deadline, self.exchange(&stream, body, reply)).await;
        match answer {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => {
                correlator.cancel(id);
                if matches!(error, RequestError::Status { .. }) {
                    correlator
                        .counters
                        .http_errors
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(error)
            }
            Err(_) => {
                correlator.time_out(id);
                // The stream stays open: the client says it gave up, so the
                // server can stop the work.
                if jsonrpc::cancellable(method) {
                    correlator
                        .counters
                        .cancellations_sent
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let params = jsonrpc::cancellation(id, timeout);
                    let _ = self
                        .post(
                            &stream,
                            jsonrpc::notification_line("notifications/cancelled", Some(&params)),
                        )
                        .await;
                }
                Err(RequestError::Timeout(timeout))
            }
        }
    }

    /// Send a raw frame (a robustness probe) built around a fresh id: the
    /// response for the id, one without a usable id, or the POST's refusal.
    pub async fn probe(
        &self,
        build: Box<dyn FnOnce(u64) -> RawFrame + Send + '_>,
        timeout: Duration,
    ) -> Result<RawReply, RequestError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let stream = self.stream_by(deadline, timeout).await?;
        let correlator = &self.correlator;
        let (id, reply) = correlator.register();
        let mut anonymous = correlator.expect_anonymous();
        let frame = build(id);
        let exchanged = tokio::time::timeout_at(deadline, async {
            tokio::select! {
                answer = self.exchange(&stream, frame.bytes, reply) => answer,
                Ok(answer) = &mut anonymous => Ok(answer),
            }
        })
        .await;
        correlator.stop_expecting_anonymous();
        let outcome = match exchanged {
            Err(_) => {
                correlator.time_out(id);
                return Err(RequestError::Timeout(timeout));
            }
            Ok(Ok(reply)) => Ok(RawReply::Response(reply.body)),
            Ok(Err(error)) => RawReply::from_failure(error),
        };
        correlator.cancel(id);
        outcome
    }

    /// Send a notification (the server should answer 202 Accepted).
    pub async fn notify(&self, method: &str, params: Option<&Value>) {
        let counters = &self.correlator.counters;
        let sent = tokio::time::timeout(NOTIFY_TIMEOUT, async {
            let stream = self
                .stream()
                .await
                .map_err(|e| RequestError::Http(e.to_string()))?;
            self.post(&stream, jsonrpc::notification_line(method, params))
                .await
        })
        .await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                counters.protocol_violation(format!("notification {method}: {error}"))
            }
            Err(_) => counters.protocol_violation(format!(
                "notification {method}: no HTTP answer within {NOTIFY_TIMEOUT:?}"
            )),
        }
    }

    /// The stream, opened within the call's time if need be.
    async fn stream_by(
        &self,
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> Result<Arc<Stream>, RequestError> {
        match tokio::time::timeout_at(deadline, self.stream()).await {
            Err(_) => Err(RequestError::Timeout(timeout)),
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(OpenError::Request(error))) => Err(error),
            Ok(Err(error)) => Err(RequestError::Http(error.to_string())),
        }
    }

    /// POST one message, then wait for its response on the stream (or for
    /// the stream to end).
    async fn exchange(
        &self,
        stream: &Stream,
        body: Vec<u8>,
        reply: oneshot::Receiver<Reply>,
    ) -> Result<Reply, RequestError> {
        self.post(stream, body).await?;
        let mut ended = stream.ended.clone();
        tokio::select! {
            answer = reply => answer.map_err(|_| RequestError::Http("the SSE stream ended".into())),
            why = ended.wait_for(Option::is_some) => Err(why
                .ok()
                .and_then(|why| why.clone())
                .unwrap_or_else(|| RequestError::Http("the SSE stream ended".into()))),
        }
    }

    /// The server refused the credentials sent: counted as an auth failure,
    /// and a refused token (401) replaced before the next request.
    fn refused(&self, token: Option<&HeaderValue>, status: StatusCode) {
        self.correlator
            .counters
            .auth_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let (Some(auth), Some(token)) = (&self.options.auth, token)
            && status == StatusCode::UNAUTHORIZED
        {
            auth.refused(token);
        }
    }

    /// POST one message to the stream's endpoint: accepted (2xx), or the
    /// refusal as a status error. A 404 means the server no longer knows
    /// the session: the stream is dropped and the session must be opened
    /// again.
    async fn post(&self, stream: &Stream, body: Vec<u8>) -> Result<(), RequestError> {
        let (status, reply) = post_to(&stream.posts, &self.options, body)
            .await
            .map_err(|e| pool_failure(e, &stream.posts, &stream.post_url))?;
        if let Some(setup) = reply.setup {
            self.correlator.counters.connection_opened(setup);
        }
        if status.is_success() {
            return Ok(());
        }
        if let Some(refused) = auth_refusal(status, &reply.challenge) {
            self.refused(reply.token.as_ref(), status);
            return Err(RequestError::AuthRefused(refused));
        }
        if status == StatusCode::NOT_FOUND {
            self.forget_session();
            self.correlator
                .counters
                .sessions_expired
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(RequestError::SessionExpired);
        }
        let error = match jsonrpc::classify(&reply.body) {
            jsonrpc::Incoming::Response {
                body: jsonrpc::ResponseBody::Error(error),
                ..
            } => Some(error),
            _ => None,
        };
        let detail = match &error {
            Some(error) => format!("JSON-RPC error {}: {}", error.code, error.message),
            None if reply.body.is_empty() => "empty body".to_string(),
            None => sample_of(&reply.body),
        };
        Err(RequestError::Status {
            status: status.as_u16(),
            code: error.map(|e| e.code),
            detail: format!("HTTP {status}: {detail}"),
        })
    }
}

/// A POST's reply: its body (read so the connection can be used again),
/// how its connection was opened, and what answers a refusal of the
/// token sent.
struct PostReply {
    body: Bytes,
    setup: Option<super::http_pool::Setup>,
    token: Option<HeaderValue>,
    challenge: Option<HeaderValue>,
}

async fn post_to(
    pool: &Pool,
    options: &SseOptions,
    body: Vec<u8>,
) -> Result<(StatusCode, PostReply), super::http_pool::PoolError> {
    let mut request = Request::new(Full::new(Bytes::from(body)));
    *request.method_mut() = Method::POST;
    let (mut headers, token) = with_token(&options.headers, options.auth.as_ref()).await;
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    *request.headers_mut() = headers;
    let (response, lent) = pool.send(request).await?;
    let status = response.status();
    let setup = lent.setup();
    let challenge = challenge(response.headers());
    let body = match Limited::new(response.into_body(), POST_REPLY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => {
            pool.put_back(lent);
            collected.to_bytes()
        }
        Err(_) => Bytes::new(),
    };
    Ok((
        status,
        PostReply {
            body,
            setup,
            token,
            challenge,
        },
    ))
}

/// Answers to the server's own requests (a ping), POSTed from a task of
/// their own: the reader goes on reading meanwhile.
/// At most [`ANSWERS_IN_FLIGHT`] at once: a server flooding the stream with
/// requests gets the rest unanswered (counted), never a task each.
struct Answers {
    pool: Arc<Pool>,
    options: Arc<SseOptions>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// Answers to the server's requests being POSTed at once, at most.
const ANSWERS_IN_FLIGHT: usize = 64;

impl Answers {
    fn new(pool: Arc<Pool>, options: Arc<SseOptions>) -> Answers {
        Answers {
            pool,
            options,
            in_flight: Arc::new(tokio::sync::Semaphore::new(ANSWERS_IN_FLIGHT)),
        }
    }

    fn send(&self, answer: Vec<u8>, correlator: &Correlator) {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            correlator.counters.protocol_violation(format!(
                "a server request left unanswered: {ANSWERS_IN_FLIGHT} answers already on their way"
            ));
            return;
        };
        let (pool, options) = (self.pool.clone(), self.options.clone());
        tokio::spawn(async move {
            let _ = tokio::time::timeout(NOTIFY_TIMEOUT, post_to(&pool, &options, answer)).await;
            drop(permit);
        });
    }
}
