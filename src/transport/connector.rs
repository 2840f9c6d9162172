//! What an HTTP connection runs over: a byte stream to the endpoint's host
//! and port, opened by the connector its URL's scheme names: plain TCP for
//! `http://`, TLS for `https://` (`tls.rs`, configured per run by the
//! command line's TLS options).

use std::io;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connected byte stream, whatever carries it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// A connection opened: the stream, and over TLS whether its handshake
/// resumed an earlier session (an abbreviated handshake) or was a full one,
/// and whether the server chose HTTP/2 (ALPN).
pub struct Connected {
    pub stream: Box<dyn Stream>,
    pub tls_resumed: Option<bool>,
    /// `None`: nothing was negotiated (plain TCP).
    pub http2: Option<bool>,
}

pub trait Connector: Send + Sync {
    /// The URL scheme it serves.
    fn scheme(&self) -> &'static str;

    /// The port a URL without one means.
    fn default_port(&self) -> u16;

    /// What may explain a failed exchange, from what opening connections
    /// saw (a TLS server that asked for a client certificate).
    fn failure_hint(&self) -> Option<&'static str> {
        None
    }

    /// Open a stream to `host` (no brackets around an IPv6 address) and
    /// `port`, offering HTTP/2 beside HTTP/1.1 when `offer_http2`.
    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
        offer_http2: bool,
    ) -> BoxFuture<'a, io::Result<Connected>>;
}

/// The URL schemes mcpstorm has a connector for.
pub const SCHEMES: &[&str] = &["http", "https"];

/// Whether mcpstorm can reach a URL of this scheme.
pub fn known_scheme(scheme: &str) -> bool {
    SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme))
}

/// A TCP connection to `host` and `port`, Nagle's algorithm off: small
/// JSON-RPC messages must not wait for it.
pub async fn tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// `http://`: a TCP connection, Nagle's algorithm off.
pub struct PlainTcp;

impl Connector for PlainTcp {
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
        _offer_http2: bool,
    ) -> BoxFuture<'a, io::Result<Connected>> {
        async move {
            Ok(Connected {
                stream: Box::new(tcp(host, port).await?),
                tls_resumed: None,
                http2: None,
            })
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_are_known_and_http_is_plain_tcp() {
        assert!(known_scheme("HTTP") && known_scheme("https"));
        assert!(!known_scheme("ftp"));
        assert_eq!((PlainTcp.scheme(), PlainTcp.default_port()), ("http", 80));
    }

    #[tokio::test]
    async fn plain_tcp_connects_with_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stream, accepted) = tokio::join!(
            PlainTcp.connect("127.0.0.1", port, false),
            listener.accept()
        );
        assert!(stream.is_ok() && accepted.is_ok());
        let refused = PlainTcp.connect("127.0.0.1", 1, false).await;
        assert!(refused.is_err());
    }
}
