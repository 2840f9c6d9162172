//! Keep-alive connections to one endpoint. Over HTTP/1.1, as many as there
//! are requests in flight, each reused for the next request once its reply
//! has been read to the end. Over HTTP/2 (`--http2`), one connection that
//! carries every request in flight as its own stream, opened again if the
//! server closes it.
//!
//! Why not hyper-util's pooled client: on the load path its bookkeeping was
//! a sixth of mcpstorm's work per HTTP call (a pool keyed by scheme and
//! authority, hashed with SipHash at every checkout and return, and a task
//! spawned per request to put the connection back). One endpoint needs none
//! of that: a stack of idle connections behind a mutex, or one shared one.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::connector::Connector;

type Http1Sender = http1::SendRequest<Full<Bytes>>;
type Http2Sender = http2::SendRequest<Full<Bytes>>;

/// The HTTP a pool asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 alone, one exchange per connection at a time: what the MCP
    /// SDKs' own clients speak, so what a server meets in production.
    #[default]
    Http1,
    /// HTTP/2: over TLS when the server's ALPN chooses it (HTTP/1.1 when
    /// it does not), over plain TCP by prior knowledge (h2c).
    Http2,
}

/// A connection lent for one exchange. Give it back with [`Pool::put_back`]
/// once the reply's body has been read to its end; dropped instead, an
/// HTTP/1.1 connection closes (which is how an abandoned request is
/// cancelled; over HTTP/2, dropping the reply resets its stream alone).
#[derive(Debug)]
pub struct Lent {
    /// `None` over HTTP/2, whose connection is never lent out alone.
    sender: Option<Http1Sender>,
    /// Opened for this exchange: how.
    setup: Option<Setup>,
    /// How long the exchange waited for a connection to be opened,
    /// by itself or (HTTP/2) by another exchange.
    connection_wait: Duration,
}

/// How a connection was opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setup {
    /// TCP connect, TLS and HTTP handshakes.
    pub took: Duration,
    /// Over TLS: its handshake resumed an earlier session.
    pub tls_resumed: Option<bool>,
    /// It speaks HTTP/2.
    pub http2: bool,
}

impl Lent {
    /// How its connection was opened, when it was opened for this exchange
    /// (a kept-alive one was not).
    pub fn setup(&self) -> Option<Setup> {
        self.setup
    }

    /// How long the exchange waited for a connection to open: not the
    /// server's answer time, taken off the call's latency.
    pub fn connection_wait(&self) -> Duration {
        self.connection_wait
    }
}

/// What the pool knows of the endpoint's HTTP.
const SPOKEN_UNKNOWN: u8 = 0;
const SPOKEN_HTTP1: u8 = 1;
const SPOKEN_HTTP2: u8 = 2;

pub struct Pool {
    /// What opens a connection (the URL's scheme chose it).
    connector: Arc<dyn Connector>,
    /// Where connections go: the URL's host (no brackets) and port.
    host: String,
    port: u16,
    /// What every request carries: `Host` and the origin-form target.
    host_header: HeaderValue,
    target: Uri,
    /// The URL itself: HTTP/2 requests carry it whole.
    absolute: Uri,
    asked: HttpVersion,
    /// HTTP/1.1 connections not in use.
    idle: Mutex<Vec<Http1Sender>>,
    /// The HTTP/2 connection every request shares, once open.
    shared: Mutex<Option<Http2Sender>>,
    /// Held while an HTTP/2 connection may be being opened, so that
    /// requests in flight wait for it instead of each opening its own.
    opening: tokio::sync::Mutex<()>,
    /// `SPOKEN_*`: what the last connection opened speaks.
    spoken: AtomicU8,
    /// An HTTP/2 exchange has been answered.
    answered_http2: AtomicBool,
}

/// How long a connection put back while still busy with its exchange may
/// take to come free before it is given up.
const SETTLE: Duration = Duration::from_millis(5);

/// Why an exchange failed, with what caused it.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("connecting to {address}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

/// A connection ready for one exchange.
enum Checkout {
    Http1(Http1Sender),
    Http2(Http2Sender),
}

/// A connection ready for an exchange, and what getting it took.
struct Ready {
    connection: Checkout,
    /// Opened for this exchange: how.
    setup: Option<Setup>,
    connection_wait: Duration,
}

impl Pool {
    /// An HTTP/1.1 pool for `url`, its connections opened by `connector`
    /// (the one its scheme names).
    pub fn new(url: &Uri, connector: Arc<dyn Connector>) -> Pool {
        Pool::speaking(url, connector, HttpVersion::Http1)
    }

    /// A pool for `url` that asks for `version`.
    pub fn speaking(url: &Uri, connector: Arc<dyn Connector>, asked: HttpVersion) -> Pool {
        let host = url.host().unwrap_or("localhost");
        let port = url.port_u16();
        let default_port = connector.default_port();
        let host_header = match port {
            Some(port) if port != default_port => format!("{host}:{port}"),
            _ => host.to_string(),
        };
        let target = url
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .unwrap_or_else(|_| Uri::from_static("/"));
        Pool {
            connector,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: port.unwrap_or(default_port),
            host_header: HeaderValue::from_str(&host_header)
                .unwrap_or_else(|_| HeaderValue::from_static("localhost")),
            target,
            absolute: url.clone(),
            asked,
            idle: Mutex::default(),
            shared: Mutex::default(),
            opening: tokio::sync::Mutex::const_new(()),
            spoken: AtomicU8::new(SPOKEN_UNKNOWN),
            answered_http2: AtomicBool::new(false),
        }
    }

    /// What opens this pool's connections.
    pub fn connector(&self) -> Arc<dyn Connector> {
        self.connector.clone()
    }

    /// The HTTP it asks for.
    pub fn asked(&self) -> HttpVersion {
        self.asked
    }

    /// What may explain a failed exchange: what opening connections saw,
    /// or HTTP/2 spoken by prior knowledge that nothing has answered yet.
    pub fn failure_hint(&self) -> Option<&'static str> {
        let unanswered_h2c = self.asked == HttpVersion::Http2
            && self.connector.scheme() == "http"
            && !self.answered_http2.load(Ordering::Relaxed);
        match unanswered_h2c {
            true => Some(
                "HTTP/2 without TLS (h2c) is spoken by prior knowledge, and many servers \
                 speak only HTTP/1.1 over http://: leave out --http2",
            ),
            false => self.connector.failure_hint(),
        }
    }

    /// Send `request` (its URI and `Host` are set here) on an idle
    /// connection, or a new one when none is idle.
    pub async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lent), PoolError> {
        loop {
            let ready = self.checkout().await?;
            let reused = ready.setup.is_none();
            let lent = |sender| Lent {
                sender,
                setup: ready.setup,
                connection_wait: ready.connection_wait,
            };
            let failed = match ready.connection {
                Checkout::Http1(mut sender) => {
                    *request.uri_mut() = self.target.clone();
                    request.headers_mut().insert(HOST, self.host_header.clone());
                    match sender.try_send_request(request).await {
                        Ok(response) => return Ok((response, lent(Some(sender)))),
                        Err(failed) => failed,
                    }
                }
                Checkout::Http2(mut sender) => {
                    // HTTP/2 names the endpoint in `:scheme` and
                    // `:authority`, taken from an absolute URI.
                    *request.uri_mut() = self.absolute.clone();
                    request.headers_mut().remove(HOST);
                    match sender.try_send_request(request).await {
                        Ok(response) => {
                            self.answered_http2.store(true, Ordering::Relaxed);
                            return Ok((response, lent(None)));
                        }
                        Err(failed) => failed,
                    }
                }
            };
            let mut failed = failed;
            match failed.take_message() {
                // A kept-alive connection the server closed as the request
                // was queued: nothing was written, so it is safe to send
                // again on another.
                Some(unsent) if reused => request = unsent,
                _ => return Err(failed.into_error().into()),
            }
        }
    }

    /// Open a connection before the first request, to learn which HTTP the
    /// server speaks: how it was opened (`None`: one was open already).
    pub async fn open_ahead(&self) -> Result<Option<Setup>, PoolError> {
        let ready = self.checkout().await?;
        if let Checkout::Http1(sender) = ready.connection
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(sender);
        }
        Ok(ready.setup)
    }

    /// Keep a connection whose reply has been read to its end, for the next
    /// request (over HTTP/2 the connection was never lent out alone).
    pub fn put_back(&self, lent: Lent) {
        let Some(sender) = lent.sender else {
            return;
        };
        if sender.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(sender);
        }
    }

    /// A connection for one exchange: the shared HTTP/2 one, an idle
    /// HTTP/1.1 one, or a new one.
    async fn checkout(&self) -> Result<Ready, PoolError> {
        let kept = |connection| Ready {
            connection,
            setup: None,
            connection_wait: Duration::ZERO,
        };
        if let Some(sender) = self.shared_http2() {
            return Ok(kept(Checkout::Http2(sender)));
        }
        if let Some(sender) = self.idle_connection().await {
            return Ok(kept(Checkout::Http1(sender)));
        }
        let waiting = Instant::now();
        // Over HTTP/2 one connection serves every request: while it may be
        // being opened, the others wait for it rather than open their own.
        let _opening = if self.asked == HttpVersion::Http2
            && self.spoken.load(Ordering::Relaxed) != SPOKEN_HTTP1
        {
            let opening = self.opening.lock().await;
            if let Some(sender) = self.shared_http2() {
                return Ok(Ready {
                    connection: Checkout::Http2(sender),
                    setup: None,
                    connection_wait: waiting.elapsed(),
                });
            }
            Some(opening)
        } else {
            None
        };
        let opening = Instant::now();
        let (connection, tls_resumed) = self.connect().await?;
        let http2 = matches!(connection, Checkout::Http2(_));
        let spoken = if http2 { SPOKEN_HTTP2 } else { SPOKEN_HTTP1 };
        self.spoken.store(spoken, Ordering::Relaxed);
        if let Checkout::Http2(sender) = &connection
            && let Ok(mut shared) = self.shared.lock()
        {
            *shared = Some(sender.clone());
        }
        Ok(Ready {
            connection,
            setup: Some(Setup {
                took: opening.elapsed(),
                tls_resumed,
                http2,
            }),
            connection_wait: waiting.elapsed(),
        })
    }

    /// The HTTP/2 connection, while it is open (an HTTP/1.1 pool has none:
    /// its requests take no lock for it).
    fn shared_http2(&self) -> Option<Http2Sender> {
        if self.asked != HttpVersion::Http2 {
            return None;
        }
        let mut shared = self.shared.lock().ok()?;
        match shared.as_ref() {
            Some(sender) if !sender.is_closed() => Some(sender.clone()),
            Some(_) => {
                *shared = None;
                None
            }
            None => None,
        }
    }

    /// The most recently used idle connection that is still open, once it is
    /// ready for a request.
    async fn idle_connection(&self) -> Option<Http1Sender> {
        loop {
            let mut sender = self.idle.lock().ok()?.pop()?;
            if sender.is_ready() {
                return Some(sender);
            }
            if sender.is_closed() {
                continue;
            }
            // Put back a moment before hyper had finished with its exchange
            // (it does on another thread), or stuck: the server answered
            // before it read the whole request (a 413 to a large body) and
            // will read no more. Only the first comes free this soon.
            if let Ok(Ok(())) = tokio::time::timeout(SETTLE, sender.ready()).await {
                return Some(sender);
            }
        }
    }

    /// A new connection, and over TLS whether its handshake resumed. It
    /// speaks HTTP/2 when asked to and, over TLS, the server chose it.
    async fn connect(&self) -> Result<(Checkout, Option<bool>), PoolError> {
        let failed = |source| PoolError::Connect {
            address: format!("{}:{}", self.host, self.port),
            source,
        };
        let offer_http2 = self.asked == HttpVersion::Http2;
        let connected = self
            .connector
            .connect(&self.host, self.port, offer_http2)
            .await
            .map_err(failed)?;
        let io = TokioIo::new(connected.stream);
        // Each connection's own task reads and writes its socket; it ends
        // when the connection closes or its last sender is dropped.
        let connection = if connected.http2.unwrap_or(offer_http2) {
            let (sender, connection) = http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(connection);
            Checkout::Http2(sender)
        } else {
            let (sender, connection) = http1::handshake(io).await?;
            tokio::spawn(connection);
            Checkout::Http1(sender)
        };
        Ok((connection, connected.tls_resumed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::connector::PlainTcp;
    use http_body_util::BodyExt;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::TcpListener;

    #[test]
    fn requests_carry_the_host_and_the_origin_form_target() {
        let pool = Pool::new(
            &"http://127.0.0.1:8080/mcp?x=1".parse().unwrap(),
            Arc::new(PlainTcp),
        );
        assert_eq!(pool.host_header, "127.0.0.1:8080");
        assert_eq!(pool.target, "/mcp?x=1");
        assert_eq!((pool.host.as_str(), pool.port), ("127.0.0.1", 8080));
        let pool = Pool::new(&"http://[::1]/".parse().unwrap(), Arc::new(PlainTcp));
        assert_eq!(pool.host_header, "[::1]");
        assert_eq!((pool.host.as_str(), pool.port), ("::1", 80));
        let pool = Pool::new(&"http://localhost:80".parse().unwrap(), Arc::new(PlainTcp));
        assert_eq!(pool.host_header, "localhost");
        assert_eq!(pool.target, "/");
    }

    /// A loopback HTTP/1 server that counts the connections it accepted and
    /// answers each request with its target and `Host`, or with 413 (without
    /// reading the body) when the body is announced larger than 1 KB.
    async fn counting_server() -> (Uri, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
                    let length: usize = request
                        .headers()
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                        .unwrap_or(0);
                    if length > 1024 {
                        let mut refused = Response::new(Full::new(Bytes::new()));
                        *refused.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
                        return Ok::<_, Infallible>(refused);
                    }
                    let text = format!("{} {:?}", request.uri(), request.headers().get(HOST));
                    let _ = request.into_body().collect().await;
                    Ok(Response::new(Full::new(Bytes::from(text))))
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        (url.parse().unwrap(), accepted)
    }

    async fn exchange(pool: &Pool, body: Vec<u8>) -> (http::StatusCode, String) {
        let request = Request::new(Full::new(Bytes::from(body)));
        let (response, lent) = pool.send(request).await.expect("an answer");
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        pool.put_back(lent);
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_connection_serves_calls_in_turn_and_one_per_call_in_flight() {
        let (url, accepted) = counting_server().await;
        let pool = Arc::new(Pool::new(&url, Arc::new(PlainTcp)));
        for _ in 0..50 {
            let (status, text) = exchange(&pool, b"{}".to_vec()).await;
            assert_eq!(status, 200);
            let host = url.authority().unwrap().as_str();
            assert_eq!(text, format!("/mcp Some({host:?})"));
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "calls in turn share one"
        );
        for _ in 0..10 {
            let calls: Vec<_> = (0..8)
                .map(|_| {
                    let pool = pool.clone();
                    tokio::spawn(async move { exchange(&pool, b"{}".to_vec()).await })
                })
                .collect();
            for call in calls {
                assert_eq!(call.await.unwrap().0, 200);
            }
        }
        let opened = accepted.load(Ordering::SeqCst);
        assert!((2..=10).contains(&opened), "8 in flight opened {opened}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_the_server_stopped_reading_is_not_reused() {
        // A server that answers 413 as soon as it has the head of a request
        // and reads no more of it, saying it will close (as uvicorn does),
        // but holds the socket open: the rest of the body is stuck in it,
        // and the next request must go on a new connection.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url: Uri = format!("http://{}/mcp", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut held = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.is_ok() {
                    head.extend_from_slice(&byte);
                }
                let large = String::from_utf8_lossy(&head).contains("content-length: 4194304");
                let answer = if large {
                    "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                };
                let _ = stream.write_all(answer.as_bytes()).await;
                held.push(stream);
            }
        });
        let pool = Pool::new(&url, Arc::new(PlainTcp));
        let (status, _) = exchange(&pool, vec![b' '; 4 << 20]).await;
        assert_eq!(status, 413);
        let next = tokio::time::timeout(Duration::from_secs(5), exchange(&pool, b"{}".to_vec()));
        assert_eq!(
            next.await.expect("the next call is not stuck"),
            (http::StatusCode::OK, "ok".to_string())
        );
    }

    #[tokio::test]
    async fn an_abandoned_request_closes_its_connection() {
        let (url, accepted) = counting_server().await;
        let pool = Pool::new(&url, Arc::new(PlainTcp));
        exchange(&pool, b"{}".to_vec()).await;
        // Given up before the answer was read: the lent connection is dropped.
        let request = Request::new(Full::new(Bytes::from_static(b"{}")));
        let (_response, lent) = pool.send(request).await.expect("an answer");
        drop(lent);
        exchange(&pool, b"{}".to_vec()).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    /// Plain TCP that takes `0` to connect: a slow handshake.
    struct SlowTcp(Duration);

    impl Connector for SlowTcp {
        fn scheme(&self) -> &'static str {
            "http"
        }

        fn default_port(&self) -> u16 {
            80
        }

        fn connect<'a>(
            &'a self,
            host: &'a str,
            port: u16,
            offer_http2: bool,
        ) -> futures_util::future::BoxFuture<'a, std::io::Result<super::super::connector::Connected>>
        {
            Box::pin(async move {
                tokio::time::sleep(self.0).await;
                PlainTcp.connect(host, port, offer_http2).await
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn over_http2_requests_in_flight_share_one_connection_and_wait_for_its_opening() {
        // An h2c server counting the connections it accepts.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url: Uri = format!("http://{}/mcp", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
                    let text = format!("{} {:?}", request.uri(), request.version());
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                });
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        let opening = Duration::from_millis(300);
        let pool = Arc::new(Pool::speaking(
            &url,
            Arc::new(SlowTcp(opening)),
            HttpVersion::Http2,
        ));
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let request = Request::new(Full::new(Bytes::from_static(b"{}")));
                    let (response, lent) = pool.send(request).await.expect("an answer");
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    (String::from_utf8_lossy(&body).into_owned(), lent)
                })
            })
            .collect();
        let mut opened = 0;
        for call in calls {
            let (text, lent) = call.await.unwrap();
            assert_eq!(text, format!("{url} HTTP/2.0"));
            // Every request waited for the one connection being opened: the
            // wait is not the server's answer time.
            assert!(lent.connection_wait() >= opening, "{lent:?}");
            if let Some(setup) = lent.setup() {
                assert!(setup.http2 && setup.took >= opening, "{setup:?}");
                opened += 1;
            }
            pool.put_back(lent);
        }
        assert_eq!((opened, accepted.load(Ordering::SeqCst)), (1, 1));
        // Kept: later requests neither open nor wait.
        let (_, lent) = pool
            .send(Request::new(Full::new(Bytes::new())))
            .await
            .expect("an answer");
        assert_eq!(
            (lent.setup(), lent.connection_wait()),
            (None, Duration::ZERO)
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_endpoint_nobody_listens_on_is_named_in_the_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let pool = Pool::new(
            &format!("http://{address}/mcp").parse().unwrap(),
            Arc::new(PlainTcp),
        );
        let request = Request::new(Full::new(Bytes::new()));
        let error = pool.send(request).await.expect_err("refused");
        assert_eq!(error.to_string(), format!("connecting to {address}"));
        assert!(matches!(error, PoolError::Connect { .. }));
    }
}
