//! What an HTTP+SSE stream may do, and why opening one fails: where its
//! `endpoint` event may send messages (the origin connected to, nowhere
//! else), how large one event may grow (the message limit, counted as it
//! arrives), and the errors that say what to do.

use std::time::Duration;

use http::{StatusCode, Uri};

use crate::transport::RequestError;
use crate::transport::fetch::origin;

/// Why the SSE stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Request(RequestError),
    #[error("GET {url} answered HTTP {status}, not an SSE stream{}", hint(*.status))]
    Status { url: String, status: StatusCode },
    #[error(
        "GET {url} answered HTTP {status}, a redirect to {location}: follow it with \
         --follow-redirects, or give that --url"
    )]
    Redirected {
        url: String,
        status: StatusCode,
        /// Quoted: it is the server's text.
        location: String,
    },
    #[error(
        "GET {url} answered Content-Type {content_type:?}, not text/event-stream{}",
        HINT_STREAMABLE
    )]
    NotAStream { url: String, content_type: String },
    #[error("the SSE stream at {url} sent no `endpoint` event within {waited:?}")]
    NoEndpoint { url: String, waited: Duration },
    #[error("the SSE stream at {url} ended before its `endpoint` event{}", .why.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
    EndedEarly { url: String, why: Option<String> },
    #[error(
        "the `endpoint` event names {named:?}, which is not a URI on {origin}: mcpstorm \
         sends messages only to the origin it connected to"
    )]
    ForeignEndpoint { named: String, origin: String },
}

const HINT_STREAMABLE: &str = ": is this a Streamable HTTP endpoint? Leave out --transport sse";

fn hint(status: StatusCode) -> &'static str {
    match status {
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND => {
            ": is the URL the server's SSE endpoint (often …/sse)? A Streamable HTTP endpoint \
             needs no --transport sse"
        }
        _ => "",
    }
}

/// Where the `endpoint` event says messages go: a URI resolved against
/// the SSE URL (an absolute path, or an absolute URL of the same origin).
pub(super) fn resolve(sse_url: &Uri, named: &str) -> Result<Uri, OpenError> {
    let origin = origin(sse_url);
    let foreign = || OpenError::ForeignEndpoint {
        named: crate::protocol::untrusted::quote(named, 200),
        origin: origin.clone(),
    };
    // `//host/path` names another host (a network-path reference).
    if named.starts_with("//") {
        return Err(foreign());
    }
    let absolute = if named.starts_with('/') {
        format!("{origin}{named}")
    } else if named.contains("://") {
        named.to_string()
    } else {
        // Relative to the SSE URL's directory.
        let path = sse_url.path();
        let directory = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{origin}{directory}{named}")
    };
    let uri: Uri = absolute.parse().map_err(|_| foreign())?;
    let same_origin = uri.scheme_str() == sse_url.scheme_str()
        && uri.authority().map(|a| a.as_str().to_ascii_lowercase())
            == sse_url.authority().map(|a| a.as_str().to_ascii_lowercase());
    if !same_origin {
        return Err(foreign());
    }
    Ok(uri)
}

/// Bounds one event: the bytes since the last blank line (the end of an
/// event) may not exceed the message limit, so a stream that never ends its
/// event cannot grow the parser's buffer without end.
pub(super) struct EventBound {
    max: usize,
    since_event: usize,
    line_empty: bool,
}

impl EventBound {
    pub(super) fn new(max: usize) -> EventBound {
        EventBound {
            max,
            since_event: 0,
            line_empty: true,
        }
    }

    pub(super) fn check(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        for &byte in bytes {
            match byte {
                b'\n' => {
                    if self.line_empty {
                        self.since_event = 0;
                    }
                    self.line_empty = true;
                }
                b'\r' => {}
                _ => {
                    self.line_empty = false;
                    self.since_event += 1;
                }
            }
        }
        if self.since_event > self.max {
            return Err(StreamError::TooLarge(self.max));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub(super) enum StreamError {
    #[error("an event exceeds the {0}-byte message limit")]
    TooLarge(usize),
    #[error("{0}")]
    Body(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_bounded_until_its_blank_line() {
        let mut bound = EventBound::new(10);
        assert!(bound.check(b"data: 1234").is_ok());
        // The event ends (a blank line, \n or \r\n): the count starts again.
        assert!(bound.check(b"\r\n\r\ndata: 1234").is_ok());
        assert!(bound.check(b"\n\ndata: 12").is_ok());
        // One event that never ends grows past the limit, however it comes.
        assert!(bound.check(b"345").is_err());
    }

    #[test]
    fn the_endpoint_stays_on_the_origin_connected_to() {
        let sse: Uri = "http://127.0.0.1:3001/sse".parse().unwrap();
        let shown = |named: &str| resolve(&sse, named).map(|u| u.to_string());
        assert_eq!(
            shown("/messages?sessionId=1").ok().as_deref(),
            Some("http://127.0.0.1:3001/messages?sessionId=1")
        );
        assert_eq!(
            shown("messages?sessionId=1").ok().as_deref(),
            Some("http://127.0.0.1:3001/messages?sessionId=1")
        );
        assert!(shown("http://127.0.0.1:3001/m").is_ok());
        for foreign in [
            "http://127.0.0.1:3002/m",
            "https://127.0.0.1:3001/m",
            "http://evil.example/m",
            "//evil.example/m",
        ] {
            assert!(shown(foreign).is_err(), "{foreign}");
        }
    }
}
