//! OAuth 2.1 for HTTP targets, as a client acting on its own behalf (the
//! client-credentials grant): the token endpoint is found the way the MCP
//! specification says (a 401's `WWW-Authenticate: Bearer resource_metadata=…`,
//! else the RFC 9728 well-known URIs; then the authorization server's RFC 8414
//! or OpenID metadata), a token is fetched before the run, sent on every
//! request, and fetched again before it expires, or at once after a 401.
//! Every fetch is counted and timed apart from the calls
//! (`WireCounters::token_fetched`). The client secret and the tokens are
//! never printed. How the token endpoint is found is `oauth/discovery.rs`.

use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};

use base64::Engine;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Uri};
use serde_json::Value;
use tokio::sync::{Notify, watch};

mod discovery;

use super::correlator::Correlator;
use super::fetch::{Answer, FETCH_TIMEOUT, Fetcher, is_loopback, origin};
use super::tls::TlsOptions;
use crate::protocol::untrusted::quote;

/// The client's registration with the authorization server.
#[derive(Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    /// The token endpoint, when given (no discovery).
    pub token_url: Option<Uri>,
    /// Scopes to ask for (space-separated), when given; else those the
    /// server's challenge or metadata names.
    pub scope: Option<String>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("token_url", &self.token_url)
            .field("scope", &self.scope)
            .finish()
    }
}

/// A token is fetched again when this share of its life has passed.
const REFRESH_AT: f64 = 0.75;
/// Past this share of its life a token is not sent: the request waits for
/// the new one (so a late refresher costs a wait, never a refused call).
const STALE_AT: f64 = 0.9;
/// Fewest time between two fetches (a server that refuses every token
/// must not be asked in a loop).
const FETCH_SPACING: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("OAuth: {url} cannot be reached: {why}")]
    Unreachable { url: String, why: String },
    #[error(
        "OAuth: refusing to send credentials to {url} over plain http (only loopback may be \
         plain): an authorization server is served over https"
    )]
    PlainHttp { url: String },
    #[error(
        "OAuth: {url} published no protected-resource metadata (no WWW-Authenticate \
         resource_metadata, nothing at the well-known URIs): give the token endpoint with \
         --oauth-token-url"
    )]
    NoResourceMetadata { url: String },
    #[error("OAuth: {url}: {why}")]
    BadDocument { url: String, why: String },
    #[error(
        "OAuth: no authorization server metadata for {issuer} (tried {tried}): give the token \
         endpoint with --oauth-token-url"
    )]
    NoServerMetadata { issuer: String, tried: String },
    #[error("OAuth: the token endpoint {url} refused the client: HTTP {status}{detail}")]
    Refused {
        url: String,
        status: StatusCode,
        detail: String,
    },
}

/// Where tokens come from, found once per run.
#[derive(Debug, Clone)]
struct Endpoint {
    token_url: Uri,
    /// The authorization server takes the client's credentials in the form
    /// body only (`client_secret_post`); else HTTP Basic.
    secret_in_body: bool,
    scope: Option<String>,
}

/// The access token every request carries, kept fresh.
pub struct TokenSource {
    current: RwLock<Current>,
    /// Counts the fetches done (or failed): what a request waiting for a
    /// fresh token waits on.
    updated: watch::Sender<u64>,
    /// What to ask the token endpoint again.
    fetch: Fetch,
    /// Wakes the refresher at once (a stale or refused token).
    refresh_now: Arc<Notify>,
    refresher: OnceLock<tokio::task::JoinHandle<()>>,
}

/// The token sent now.
struct Current {
    /// `Bearer …`, marked sensitive.
    header: HeaderValue,
    /// When it is too old to send ([`STALE_AT`] of its life), if it expires.
    stale_at: Option<Instant>,
    /// The server refused it.
    refused: bool,
}

impl Current {
    fn new(header: HeaderValue, fetched_at: Instant, lifetime: Option<Duration>) -> Current {
        Current {
            header,
            stale_at: lifetime.map(|life| fetched_at + life.mul_f64(STALE_AT)),
            refused: false,
        }
    }

    fn usable(&self) -> bool {
        !self.refused && self.stale_at.is_none_or(|at| Instant::now() < at)
    }
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.fetch.endpoint.token_url)
            .finish_non_exhaustive()
    }
}

impl Drop for TokenSource {
    fn drop(&mut self) {
        if let Some(refresher) = self.refresher.get() {
            refresher.abort();
        }
    }
}

impl TokenSource {
    /// Where the tokens come from, as the report's notes say it (a
    /// discovered endpoint is the server's word: the person should see it).
    pub fn described(&self) -> String {
        let found = if self.fetch.client.token_url.is_some() {
            "as given"
        } else {
            "found from the server's metadata"
        };
        format!(
            "OAuth: tokens from {} ({found}) for client {}",
            self.fetch.endpoint.token_url,
            quote(&self.fetch.client.client_id, 64)
        )
    }

    /// `Authorization: Bearer …` to send now: the current token, or, when
    /// it is stale or was refused, the next one (waited for, at most as long
    /// as a fetch may take).
    pub async fn header(&self) -> HeaderValue {
        if let Some(header) = self.usable() {
            return header;
        }
        // Subscribed, then looked at again: a fetch ending in between is
        // seen (the fast path above takes no subscription: it runs per call).
        let mut updated = self.updated.subscribe();
        if let Some(header) = self.usable() {
            return header;
        }
        self.refresh_now.notify_one();
        let _ = tokio::time::timeout(FETCH_TIMEOUT, updated.changed()).await;
        self.current
            .read()
            .map(|c| c.header.clone())
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    fn usable(&self) -> Option<HeaderValue> {
        let current = self.current.read().ok()?;
        current.usable().then(|| current.header.clone())
    }

    /// The server refused `sent` (a 401): unless a newer token has replaced
    /// it already, fetch one now, and hold requests until it comes.
    pub fn refused(&self, sent: &HeaderValue) {
        if let Ok(mut current) = self.current.write()
            && current.header == *sent
        {
            current.refused = true;
            self.refresh_now.notify_one();
        }
    }
}

struct Fetch {
    client: OAuthClient,
    endpoint: Endpoint,
    /// The MCP server's canonical URI, sent as `resource` (RFC 8707).
    resource: String,
    http: Fetcher,
    correlator: Arc<Correlator>,
}

/// Fetch a first token for `mcp_url` (finding the token endpoint if need
/// be) and keep it fresh from then on.
pub async fn authorize(
    mcp_url: &Uri,
    client: &OAuthClient,
    tls: &TlsOptions,
    correlator: Arc<Correlator>,
) -> Result<Arc<TokenSource>, OAuthError> {
    let http = Fetcher::new(tls);
    let endpoint = match &client.token_url {
        Some(token_url) => Endpoint {
            token_url: token_url.clone(),
            secret_in_body: false,
            scope: client.scope.clone(),
        },
        None => discovery::discover(mcp_url, client, &http).await?,
    };
    let fetch = Fetch {
        client: client.clone(),
        endpoint,
        resource: canonical(mcp_url),
        http,
        correlator,
    };
    let fetched_at = Instant::now();
    let (header, lifetime) = fetch.token().await?;
    let source = Arc::new(TokenSource {
        current: RwLock::new(Current::new(header, fetched_at, lifetime)),
        updated: watch::Sender::new(0),
        fetch,
        refresh_now: Arc::new(Notify::new()),
        refresher: OnceLock::new(),
    });
    let refresher = tokio::spawn(keep_fresh(
        Arc::downgrade(&source),
        source.refresh_now.clone(),
        lifetime,
    ));
    let _ = source.refresher.set(refresher);
    Ok(source)
}

/// Fetch a new token before the current one expires (at three quarters of
/// its life), or at once when it is stale or was refused; a failed fetch
/// keeps the old token and is tried again a second later. It holds the
/// source weakly: the source dropped, it ends (and the source's drop
/// aborts it).
async fn keep_fresh(
    source: Weak<TokenSource>,
    refresh_now: Arc<Notify>,
    mut lifetime: Option<Duration>,
) {
    let mut last_fetch = Instant::now();
    loop {
        let wait = lifetime.map_or(Duration::MAX, |life| life.mul_f64(REFRESH_AT));
        let _ = tokio::time::timeout(
            wait.min(Duration::from_secs(86_400)),
            refresh_now.notified(),
        )
        .await;
        tokio::time::sleep(FETCH_SPACING.saturating_sub(last_fetch.elapsed())).await;
        let Some(strong) = source.upgrade() else {
            return;
        };
        last_fetch = Instant::now();
        match strong.fetch.token().await {
            Ok((header, life)) => {
                if let Ok(mut current) = strong.current.write() {
                    *current = Current::new(header, last_fetch, life);
                }
                lifetime = life;
            }
            // Counted; the old token stays until a fetch succeeds.
            Err(_) => lifetime = Some(Duration::from_secs(1).div_f64(REFRESH_AT)),
        }
        // Requests waiting for a token go on, with a new one or the old.
        strong.updated.send_modify(|fetches| *fetches += 1);
    }
}

impl Fetch {
    /// One token request: the header to send, and how long it lives.
    async fn token(&self) -> Result<(HeaderValue, Option<Duration>), OAuthError> {
        let endpoint = &self.endpoint;
        let client = &self.client;
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            form.append_pair("resource", &self.resource);
            if let Some(scope) = &endpoint.scope {
                form.append_pair("scope", scope);
            }
            if endpoint.secret_in_body {
                form.append_pair("client_id", &client.client_id);
                form.append_pair("client_secret", &client.client_secret);
            }
            form.finish().into_bytes()
        };
        if !endpoint.secret_in_body {
            let encode =
                |part: &str| form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
            let pair = format!(
                "{}:{}",
                encode(&client.client_id),
                encode(&client.client_secret)
            );
            let basic = base64::engine::general_purpose::STANDARD.encode(pair);
            if let Ok(mut value) = HeaderValue::from_str(&format!("Basic {basic}")) {
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
        }
        let started = Instant::now();
        let answer = fetch(&self.http, Method::POST, &endpoint.token_url, headers, body).await;
        let got_one = answer.as_ref().is_ok_and(|a| a.status.is_success());
        self.correlator
            .counters
            .token_fetched(started.elapsed(), got_one);
        let Answer { status, body, .. } = answer?;
        let url = endpoint.token_url.to_string();
        if !status.is_success() {
            let detail = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|doc| {
                    let error = doc.get("error")?.as_str()?;
                    let description = doc.get("error_description").and_then(Value::as_str);
                    Some(match description {
                        Some(d) => format!(": {} ({})", quote(error, 64), quote(d, 200)),
                        None => format!(": {}", quote(error, 64)),
                    })
                })
                .unwrap_or_default();
            return Err(OAuthError::Refused {
                url,
                status,
                detail,
            });
        }
        let bad = |why: &str| OAuthError::BadDocument {
            url: url.clone(),
            why: why.to_string(),
        };
        let doc: Value =
            serde_json::from_slice(&body).map_err(|_| bad("the token response is not JSON"))?;
        let token = doc
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("the token response has no access_token"))?;
        let kind = doc
            .get("token_type")
            .and_then(Value::as_str)
            .unwrap_or("Bearer");
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(bad("the token is not a Bearer token"));
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| bad("the access token is not a valid header value (it is not shown)"))?;
        header.set_sensitive(true);
        let lifetime = doc
            .get("expires_in")
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0 * 365.0)));
        Ok((header, lifetime))
    }
}

/// A request to an authorization endpoint: over https, or plain http to
/// loopback only (an authorization server is served over https, and the
/// client's secret must not cross a network in the clear).
pub(super) async fn fetch(
    http: &Fetcher,
    method: Method,
    url: &Uri,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<Answer, OAuthError> {
    if url.scheme_str() == Some("http") && !url.host().is_some_and(is_loopback) {
        return Err(OAuthError::PlainHttp {
            url: url.to_string(),
        });
    }
    http.fetch(method, url, headers, body)
        .await
        .map_err(|e| OAuthError::Unreachable {
            url: e.url,
            why: e.why,
        })
}

/// A JSON document at `url`: `None` when it is not there (4xx).
pub(super) async fn document(http: &Fetcher, url: &str) -> Result<Option<Value>, OAuthError> {
    let uri: Uri = url.parse().map_err(|_| OAuthError::BadDocument {
        url: quote(url, 200),
        why: "not a URL".into(),
    })?;
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let answer = fetch(http, Method::GET, &uri, headers, Vec::new()).await?;
    if answer.status.is_client_error() {
        return Ok(None);
    }
    if !answer.status.is_success() {
        return Err(OAuthError::Unreachable {
            url: url.to_string(),
            why: format!("HTTP {}", answer.status),
        });
    }
    serde_json::from_slice(&answer.body)
        .map(Some)
        .map_err(|_| OAuthError::BadDocument {
            url: url.to_string(),
            why: "not a JSON document".into(),
        })
}

/// The MCP server's canonical URI (RFC 8707): its URL without query or
/// fragment, and without a trailing slash.
fn canonical(mcp_url: &Uri) -> String {
    let path = mcp_url.path().trim_end_matches('/');
    format!("{}{path}", origin(mcp_url).to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_is_the_canonical_uri() {
        let url: Uri = "HTTPS://MCP.Example.com:8443/server/mcp/?x=1"
            .parse()
            .unwrap();
        assert_eq!(canonical(&url), "https://mcp.example.com:8443/server/mcp");
    }

    #[test]
    fn the_secret_is_never_in_debug_output() {
        let client = OAuthClient {
            client_id: "me".into(),
            client_secret: "s3cret".into(),
            token_url: None,
            scope: None,
        };
        assert!(!format!("{client:?}").contains("s3cret"));
    }
}
