//! Small HTTP requests made around the load, never in it: discovery
//! documents and tokens (OAuth), and the probe that follows an endpoint's
//! redirects. Each is bounded in size and time, over TLS where the URL says
//! so, on a pool per URL.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderMap;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};

use super::connector::Connector;
use super::http::connector_for;
use super::http_pool::Pool;
use super::tls::{TlsConnector, TlsOptions};

/// Largest answer read.
const ANSWER_BYTES: usize = 64 * 1024;
/// How long one request may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{url} cannot be reached: {why}")]
pub struct FetchError {
    pub url: String,
    pub why: String,
}

/// What came back: the status, the headers and the body (at most 64 KB).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Fetcher {
    tls: TlsOptions,
    connector: OnceLock<Option<Arc<TlsConnector>>>,
    pools: Mutex<Vec<(String, Arc<Pool>)>>,
}

impl Fetcher {
    pub fn new(tls: &TlsOptions) -> Fetcher {
        Fetcher {
            tls: tls.clone(),
            connector: OnceLock::new(),
            pools: Mutex::default(),
        }
    }

    pub async fn fetch(
        &self,
        method: Method,
        url: &Uri,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> Result<Answer, FetchError> {
        self.exchange(method, url, headers, body, true).await
    }

    /// A request whose answer's body is not read (an SSE stream, which
    /// would not end): its status and headers, the body empty.
    pub async fn head_of(
        &self,
        method: Method,
        url: &Uri,
        headers: HeaderMap,
    ) -> Result<Answer, FetchError> {
        self.exchange(method, url, headers, Vec::new(), false).await
    }

    async fn exchange(
        &self,
        method: Method,
        url: &Uri,
        headers: HeaderMap,
        body: Vec<u8>,
        read_body: bool,
    ) -> Result<Answer, FetchError> {
        let unreachable = |why: String| FetchError {
            url: url.to_string(),
            why,
        };
        if !matches!(url.scheme_str(), Some("http" | "https")) {
            return Err(unreachable(
                "only http:// and https:// are supported".into(),
            ));
        }
        let pool = self.pool(url);
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = method;
        *request.headers_mut() = headers;
        let exchange = async {
            let (response, lent) = pool
                .send(request)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let status = response.status();
            let headers = response.headers().clone();
            if !read_body {
                // Dropped unread, with its connection: a stream ends here.
                return Ok(Answer {
                    status,
                    headers,
                    body: Bytes::new(),
                });
            }
            let body = Limited::new(response.into_body(), ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            pool.put_back(lent);
            Ok(Answer {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(FETCH_TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {FETCH_TIMEOUT:?}")))?
    }

    /// The pool of connections to `url` (one per URL).
    fn pool(&self, url: &Uri) -> Arc<Pool> {
        let key = url.to_string();
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, pool)) = pools.iter().find(|(k, _)| *k == key) {
            return pool.clone();
        }
        let tls = match url.scheme_str() {
            Some("https") => self
                .connector
                .get_or_init(|| TlsConnector::new(&self.tls).ok().map(Arc::new))
                .clone(),
            _ => None,
        };
        let connector: Arc<dyn Connector> = connector_for(url, tls.as_ref());
        let pool = Arc::new(Pool::new(url, connector));
        pools.push((key, pool.clone()));
        pool
    }
}

/// Whether `host` (an IPv6 address maybe in brackets) is this machine.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `scheme://authority` of a URI.
pub fn origin(uri: &Uri) -> String {
    format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", |a| a.as_str())
    )
}
