//! Keep-alive HTTP/1 connections to one endpoint: as many as there are
//! requests in flight, each reused for the next request once its reply has
//! been read to the end.
//!
//! Why not hyper-util's pooled client: on the load path its bookkeeping was
//! a sixth of mcpstorm's work per HTTP call (a pool keyed by scheme and
//! authority, hashed with SipHash at every checkout and return, and a task
//! spawned per request to put the connection back). One endpoint needs none
//! of that: a stack of idle connections behind a mutex.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use super::connector::Connector;

type Sender = SendRequest<Full<Bytes>>;

/// A connection lent for one exchange. Give it back with [`Pool::put_back`]
/// once the reply's body has been read to its end; dropped instead, its
/// connection closes (which is how an abandoned HTTP/1 request is cancelled).
pub struct Lent {
    sender: Sender,
    /// Opened for this exchange: how.
    setup: Option<Setup>,
}

/// How a connection was opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setup {
    /// TCP connect, TLS and HTTP handshakes.
    pub took: Duration,
    /// Over TLS: its handshake resumed an earlier session.
    pub tls_resumed: Option<bool>,
}

impl Lent {
    /// How its connection was opened, when it was opened for this exchange
    /// (a kept-alive one was not).
    pub fn setup(&self) -> Option<Setup> {
        self.setup
    }
}

pub struct Pool {
    /// What opens a connection (the URL's scheme chose it).
    connector: Arc<dyn Connector>,
    /// Where connections go: the URL's host (no brackets) and port.
    host: String,
    port: u16,
    /// What every request carries: `Host` and the origin-form target.
    host_header: HeaderValue,
    target: Uri,
    idle: Mutex<Vec<Sender>>,
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

impl Pool {
    /// A pool for `url`, its connections opened by `connector` (the one
    /// its scheme names).
    pub fn new(url: &Uri, connector: Arc<dyn Connector>) -> Pool {
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
            idle: Mutex::default(),
        }
    }

    /// What opens this pool's connections.
    pub fn connector(&self) -> Arc<dyn Connector> {
        self.connector.clone()
    }

    /// Send `request` (its URI and `Host` are set here) on an idle
    /// connection, or a new one when none is idle.
    pub async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lent), PoolError> {
        *request.uri_mut() = self.target.clone();
        request.headers_mut().insert(HOST, self.host_header.clone());
        loop {
            let (mut sender, setup) = match self.idle_connection().await {
                Some(sender) => (sender, None),
                None => {
                    let opening = Instant::now();
                    let (sender, tls_resumed) = self.connect().await?;
                    let took = opening.elapsed();
                    (sender, Some(Setup { took, tls_resumed }))
                }
            };
            let reused = setup.is_none();
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, Lent { sender, setup })),
                Err(mut failed) => match failed.take_message() {
                    // A kept-alive connection the server closed as the request
                    // was queued: nothing was written, so it is safe to send
                    // again on another.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(failed.into_error().into()),
                },
            }
        }
    }

    /// Keep a connection whose reply has been read to its end, for the next
    /// request.
    pub fn put_back(&self, lent: Lent) {
        if lent.sender.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(lent.sender);
        }
    }

    /// The most recently used idle connection that is still open, once it is
    /// ready for a request.
    async fn idle_connection(&self) -> Option<Sender> {
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

    /// A new connection, and over TLS whether its handshake resumed.
    async fn connect(&self) -> Result<(Sender, Option<bool>), PoolError> {
        let failed = |source| PoolError::Connect {
            address: format!("{}:{}", self.host, self.port),
            source,
        };
        let connected = self
            .connector
            .connect(&self.host, self.port)
            .await
            .map_err(failed)?;
        let (sender, connection) = http1::handshake(TokioIo::new(connected.stream)).await?;
        // The connection's own task reads and writes its socket; it ends
        // when the connection closes or its last `SendRequest` is dropped.
        tokio::spawn(connection);
        Ok((sender, connected.tls_resumed))
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
        let error = pool.send(request).await.err().expect("refused");
        assert_eq!(error.to_string(), format!("connecting to {address}"));
        assert!(matches!(error, PoolError::Connect { .. }));
    }
}
