//! What an HTTP connection runs over: a byte stream to the endpoint's host
//! and port, opened by the connector its URL's scheme names. Plain TCP
//! (`http://`) is the one today; TLS (`https://`) is one more connector and
//! one more line in [`CONNECTORS`].

use std::io;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connected byte stream, whatever carries it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

pub trait Connector: Send + Sync {
    /// The URL scheme it serves.
    fn scheme(&self) -> &'static str;

    /// The port a URL without one means.
    fn default_port(&self) -> u16;

    /// Open a stream to `host` (no brackets around an IPv6 address) and `port`.
    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Box<dyn Stream>>>;
}

/// Every connector, by the scheme it serves.
pub const CONNECTORS: &[&dyn Connector] = &[&PlainTcp];

/// The connector for a URL's scheme, if mcpstorm has one.
pub fn for_scheme(scheme: &str) -> Option<&'static dyn Connector> {
    CONNECTORS
        .iter()
        .copied()
        .find(|c| c.scheme().eq_ignore_ascii_case(scheme))
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
    ) -> BoxFuture<'a, io::Result<Box<dyn Stream>>> {
        async move {
            let stream = TcpStream::connect((host, port)).await?;
            // Small JSON-RPC messages must not wait for Nagle's algorithm.
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as Box<dyn Stream>)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_has_one_connector_and_http_is_plain_tcp() {
        for (i, connector) in CONNECTORS.iter().enumerate() {
            assert!(
                CONNECTORS[..i]
                    .iter()
                    .all(|c| c.scheme() != connector.scheme()),
                "{} twice",
                connector.scheme()
            );
        }
        let http = for_scheme("HTTP").expect("http has a connector");
        assert_eq!((http.scheme(), http.default_port()), ("http", 80));
        assert!(for_scheme("https").is_none(), "TLS comes with issue 21");
    }

    #[tokio::test]
    async fn plain_tcp_connects_with_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stream, accepted) =
            tokio::join!(PlainTcp.connect("127.0.0.1", port), listener.accept());
        assert!(stream.is_ok() && accepted.is_ok());
        let refused = PlainTcp.connect("127.0.0.1", 1).await;
        assert!(refused.is_err());
    }
}
