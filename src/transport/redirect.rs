//! `--follow-redirects`: where an MCP endpoint's redirects lead, found
//! before the run by the request the calls would make (a POST, here of a
//! `ping`; for an HTTP+SSE server, the GET that opens its stream), so that
//! the calls go straight to the final URL and the load does not pay a
//! redirect per call. Only 307 and 308 keep a POST a POST (a GET follows
//! any); a redirect to another host is refused, as the headers and
//! credentials given are for the host given (as curl does without
//! `--location-trusted`), and so is one from https to plain http.

use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION};
use http::{Method, StatusCode, Uri};

use super::fetch::{FetchError, Fetcher, origin};
use super::tls::TlsOptions;

/// Most redirects followed from one URL.
pub const MAX_HOPS: usize = 5;
/// Longest `Location` followed.
const MAX_LOCATION: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum RedirectError {
    #[error(
        "{from} redirects (HTTP {status}) to {to}, another host: the headers and credentials \
         given are for {from_host} only; give --url {to} if that is the server"
    )]
    OtherHost {
        from: String,
        from_host: String,
        status: u16,
        to: String,
    },
    #[error("{from} redirects (HTTP {status}) from https to plain http ({to}): refused")]
    Downgrade {
        from: String,
        status: u16,
        to: String,
    },
    #[error(
        "{from} answered HTTP {status} to {to}: a redirect that may turn a POST into a GET, \
         not followed; give --url {to}"
    )]
    NotForPost {
        from: String,
        status: u16,
        to: String,
    },
    #[error("{from} answered HTTP {status} without a usable Location")]
    NoLocation { from: String, status: u16 },
    #[error("more than {MAX_HOPS} redirects from {from}")]
    TooMany { from: String },
    #[error("following redirects: {0}")]
    Fetch(#[from] FetchError),
}

/// Where the redirects led, and each hop as the report says it.
pub struct Followed {
    pub url: Uri,
    pub hops: Vec<String>,
}

/// Which request finds the redirects: the one the calls make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Probe {
    /// Streamable HTTP: a POST of a `ping`.
    Post,
    /// HTTP+SSE: the GET that opens the stream (its body is not read).
    StreamGet,
}

/// Follow the redirects of `url`, sending `headers` with each request.
pub async fn follow(
    url: &Uri,
    headers: &[(HeaderName, HeaderValue)],
    tls: &TlsOptions,
    probe: Probe,
) -> Result<Followed, RedirectError> {
    let http = Fetcher::new(tls);
    let mut current = url.clone();
    let mut hops = Vec::new();
    loop {
        let mut sent = HeaderMap::new();
        for (name, value) in headers {
            sent.append(name.clone(), value.clone());
        }
        let answer = match probe {
            Probe::Post => {
                sent.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                sent.insert(
                    ACCEPT,
                    HeaderValue::from_static("application/json, text/event-stream"),
                );
                let ping = br#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#.to_vec();
                http.fetch(Method::POST, &current, sent, ping).await?
            }
            Probe::StreamGet => {
                sent.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
                http.head_of(Method::GET, &current, sent).await?
            }
        };
        let status = answer.status;
        if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
            return Ok(Followed { url: current, hops });
        }
        let from = current.to_string();
        let location = answer
            .headers
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| resolve(&current, l))
            .ok_or_else(|| RedirectError::NoLocation {
                from: from.clone(),
                status: status.as_u16(),
            })?;
        let to = location.to_string();
        let code = status.as_u16();
        if probe == Probe::Post
            && !matches!(
                status,
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            )
        {
            return Err(RedirectError::NotForPost {
                from,
                status: code,
                to,
            });
        }
        let same_host = location
            .host()
            .zip(current.host())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
        if !same_host {
            return Err(RedirectError::OtherHost {
                from_host: current.host().unwrap_or("").to_string(),
                from,
                status: code,
                to,
            });
        }
        if current.scheme_str() == Some("https") && location.scheme_str() != Some("https") {
            return Err(RedirectError::Downgrade {
                from,
                status: code,
                to,
            });
        }
        if hops.len() == MAX_HOPS {
            return Err(RedirectError::TooMany {
                from: url.to_string(),
            });
        }
        hops.push(format!(
            "the endpoint redirected (HTTP {code}) from {from} to {to}: the calls go to {to}"
        ));
        current = location;
    }
}

/// A `Location` resolved against the URL it answered: absolute, or an
/// absolute path on the same origin. Anything else is not followed.
fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    let location = location.trim();
    if location.len() > MAX_LOCATION {
        return None;
    }
    let absolute = if location.starts_with('/') && !location.starts_with("//") {
        format!("{}{location}", origin(base))
    } else {
        location.to_string()
    };
    let uri: Uri = absolute.parse().ok()?;
    (matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()).then_some(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_url_they_answered() {
        let base: Uri = "http://127.0.0.1:8080/old/mcp".parse().unwrap();
        assert_eq!(
            resolve(&base, "/mcp").map(|u| u.to_string()).as_deref(),
            Some("http://127.0.0.1:8080/mcp")
        );
        assert_eq!(
            resolve(&base, "https://127.0.0.1:8443/mcp")
                .map(|u| u.to_string())
                .as_deref(),
            Some("https://127.0.0.1:8443/mcp")
        );
        assert_eq!(resolve(&base, "//elsewhere/mcp"), None);
        assert_eq!(resolve(&base, "ftp://x/mcp"), None);
    }
}
