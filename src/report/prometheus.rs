//! The live metrics output (`--out prometheus[=ADDR]`): `GET /metrics` on
//! ADDR (127.0.0.1:9464 unless given) answers the newest snapshot in the
//! Prometheus text format (`exposition.rs`) for as long as the run lasts,
//! so a Prometheus beside the server's own metrics can follow a soak. A
//! scrape reads the snapshot the aggregator already published: it never
//! touches the load path. At most [`CONNECTIONS`] scrapers at once; one
//! that sends no request head within [`HEAD_TIMEOUT`] is dropped, and no
//! connection lives beyond [`CONNECTION_LIFE`].
//!
//! When the run ends (not when it is stopped), a scraper that has been
//! scraping gets the final figures: the endpoint stays up until one more
//! scrape, for at most twice the longest gap seen between scrapes (within
//! [`LINGER_MIN`]..[`LINGER_MAX`]). Nobody scraping, it ends at once.

mod exposition;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};

use super::{Following, LiveFeed, Output, OutputError};
use crate::stats::Snapshot;

pub use exposition::render;

/// The address metrics are served on unless one is given.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:9464";
/// Scrapers served at once; more wait for the kernel's backlog.
const CONNECTIONS: usize = 32;
/// How long a connection may take to send a request's head: a client that
/// connects and says nothing gives its place back.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection's longest life (a scraper keeping it alive opens another).
const CONNECTION_LIFE: Duration = Duration::from_secs(60);
/// How long the endpoint may wait, once the run is over, for the scrape
/// that reads the final figures.
const LINGER_MIN: Duration = Duration::from_secs(1);
const LINGER_MAX: Duration = Duration::from_secs(15);

/// The scrapes served so far, and the longest gap between two.
#[derive(Default)]
struct Scrapes {
    served: AtomicU64,
    last: Mutex<Option<Instant>>,
    longest_gap: Mutex<Duration>,
}

impl Scrapes {
    fn served(&self) {
        let now = Instant::now();
        if let (Ok(mut last), Ok(mut longest)) = (self.last.lock(), self.longest_gap.lock())
            && let Some(before) = last.replace(now)
        {
            *longest = (*longest).max(now - before);
        }
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// How long to wait for one more scrape.
    fn linger(&self) -> Duration {
        let longest = self.longest_gap.lock().map_or(LINGER_MAX, |g| *g);
        (longest * 2).clamp(LINGER_MIN, LINGER_MAX)
    }
}

pub struct PrometheusOutput {
    /// Bound before the run (a taken port is said before anything starts).
    listener: Option<std::net::TcpListener>,
    pub address: SocketAddr,
    /// `--segment I/N`: the `segment` label every sample carries.
    segment: Option<Arc<str>>,
}

impl PrometheusOutput {
    /// Bind `address` now.
    pub fn bind(address: SocketAddr) -> std::io::Result<PrometheusOutput> {
        let listener = std::net::TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        Ok(PrometheusOutput {
            listener: Some(listener),
            address,
            segment: None,
        })
    }

    /// Label every sample `segment="I/N"`.
    pub fn for_segment(mut self, segment: &str) -> PrometheusOutput {
        self.segment = Some(Arc::from(segment));
        self
    }
}

impl Output for PrometheusOutput {
    fn follow(&mut self, feed: &LiveFeed) -> Result<Option<Following>, OutputError> {
        let shown = self.address.to_string();
        let failed = |source| OutputError::Write {
            what: "metrics",
            shown: shown.clone(),
            source,
        };
        let Some(listener) = self.listener.take() else {
            return Ok(None);
        };
        let listener = tokio::net::TcpListener::from_std(listener).map_err(failed)?;
        let (snapshots, over, halt) =
            (feed.snapshots.clone(), feed.over.clone(), feed.halt.clone());
        let segment = self.segment.clone();
        Ok(Some(tokio::spawn(async move {
            let scrapes = Arc::new(Scrapes::default());
            let server = tokio::spawn(serve(listener, snapshots, scrapes.clone(), segment));
            over.wait().await;
            let before = scrapes.count();
            if !halt.is_set() && before > 0 {
                let one_more = async {
                    while scrapes.count() == before {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                let _ = tokio::time::timeout(scrapes.linger(), one_more).await;
            }
            server.abort();
            Ok(())
        })))
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    scrapes: Arc<Scrapes>,
    segment: Option<Arc<str>>,
) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (snapshots, scrapes, segment) = (snapshots.clone(), scrapes.clone(), segment.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let snapshot = snapshots.borrow().clone();
                let response = answer(&request, &snapshot, segment.as_deref());
                if response.status() == StatusCode::OK {
                    scrapes.served();
                }
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFE, connection).await;
            drop(slot);
        });
    }
}

fn answer(
    request: &Request<Incoming>,
    snapshot: &Snapshot,
    segment: Option<&str>,
) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            render(snapshot, segment),
        ),
        (_, "/metrics") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET only\n".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "mcpstorm serves /metrics\n".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}
