//! What speaks MCP to an HTTP endpoint, under the process logic the
//! endpoint (`http_endpoint.rs`) adds: Streamable HTTP (`http.rs`) or the
//! deprecated HTTP+SSE (`legacy_sse.rs`). A new HTTP flavour is a client
//! implementing [`Client`], chosen in `http_endpoint::open`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::{StatusCode, Uri};
use serde_json::Value;

use super::correlator::{Correlator, Reply};
use super::http::HttpConnection;
use super::legacy_sse::SseClient;
use super::{RawReply, RequestError, TransportKind};
use crate::protocol::jsonrpc::{Params, RawFrame};
use crate::protocol::param_headers::ParamHeaders;

/// What speaks MCP to the endpoint: Streamable HTTP (`http.rs`), or the
/// deprecated HTTP+SSE (`legacy_sse.rs`). Both keep a session: an
/// `Mcp-Session-Id`, or the SSE stream itself.
pub(super) trait Client: Send + Sync {
    fn kind(&self) -> TransportKind;
    fn request<'a>(
        &'a self,
        method: &'a str,
        params: Option<&'a dyn Params>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Reply, RequestError>>;
    fn probe<'a>(
        &'a self,
        build: Box<dyn FnOnce(u64) -> RawFrame + Send + 'a>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<RawReply, RequestError>>;
    fn notify<'a>(&'a self, method: &'a str, params: Option<&'a Value>) -> BoxFuture<'a, ()>;
    fn url(&self) -> &Uri;
    fn correlator(&self) -> Arc<Correlator>;
    /// Another client of the endpoint, with its own connections and session.
    fn sibling(&self) -> Box<dyn Client>;
    fn has_session(&self) -> bool;
    fn forget_session(&self);
    /// End the session at the end of the run: what the server answered, if
    /// it answers with a status.
    fn end_session(&self) -> BoxFuture<'_, Option<StatusCode>>;
    /// Cancellations still being sent, which the session's end waits for.
    fn wait_for_cancellations(&self) -> BoxFuture<'_, ()>;
    fn set_protocol_version(&self, _version: &str) {}
    fn mirrors_params_in_headers(&self) -> bool {
        false
    }
    fn set_param_headers(&self, _headers: ParamHeaders) {}
}

impl Client for HttpConnection {
    fn kind(&self) -> TransportKind {
        TransportKind::Http
    }
    fn request<'a>(
        &'a self,
        method: &'a str,
        params: Option<&'a dyn Params>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Reply, RequestError>> {
        HttpConnection::request(self, method, params, timeout).boxed()
    }
    fn probe<'a>(
        &'a self,
        build: Box<dyn FnOnce(u64) -> RawFrame + Send + 'a>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<RawReply, RequestError>> {
        HttpConnection::probe(self, build, timeout).boxed()
    }
    fn notify<'a>(&'a self, method: &'a str, params: Option<&'a Value>) -> BoxFuture<'a, ()> {
        HttpConnection::notify(self, method, params).boxed()
    }
    fn url(&self) -> &Uri {
        HttpConnection::url(self)
    }
    fn correlator(&self) -> Arc<Correlator> {
        HttpConnection::correlator(self)
    }
    fn sibling(&self) -> Box<dyn Client> {
        Box::new(HttpConnection::sibling(self))
    }
    fn has_session(&self) -> bool {
        HttpConnection::has_session(self)
    }
    fn forget_session(&self) {
        HttpConnection::forget_session(self)
    }
    fn end_session(&self) -> BoxFuture<'_, Option<StatusCode>> {
        HttpConnection::end_session(self).boxed()
    }
    fn wait_for_cancellations(&self) -> BoxFuture<'_, ()> {
        HttpConnection::wait_for_cancellations(self).boxed()
    }
    fn set_protocol_version(&self, version: &str) {
        HttpConnection::set_protocol_version(self, version)
    }
    fn mirrors_params_in_headers(&self) -> bool {
        true
    }
    fn set_param_headers(&self, headers: ParamHeaders) {
        HttpConnection::set_param_headers(self, headers)
    }
}

impl Client for SseClient {
    fn kind(&self) -> TransportKind {
        TransportKind::Sse
    }
    fn request<'a>(
        &'a self,
        method: &'a str,
        params: Option<&'a dyn Params>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Reply, RequestError>> {
        SseClient::request(self, method, params, timeout).boxed()
    }
    fn probe<'a>(
        &'a self,
        build: Box<dyn FnOnce(u64) -> RawFrame + Send + 'a>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<RawReply, RequestError>> {
        SseClient::probe(self, build, timeout).boxed()
    }
    fn notify<'a>(&'a self, method: &'a str, params: Option<&'a Value>) -> BoxFuture<'a, ()> {
        SseClient::notify(self, method, params).boxed()
    }
    fn url(&self) -> &Uri {
        SseClient::url(self)
    }
    fn correlator(&self) -> Arc<Correlator> {
        SseClient::correlator(self)
    }
    fn sibling(&self) -> Box<dyn Client> {
        Box::new(SseClient::sibling(self))
    }
    fn has_session(&self) -> bool {
        SseClient::has_session(self)
    }
    fn forget_session(&self) {
        SseClient::forget_session(self)
    }
    /// The stream closing is the session's end: no status comes back.
    fn end_session(&self) -> BoxFuture<'_, Option<StatusCode>> {
        SseClient::forget_session(self);
        std::future::ready(None).boxed()
    }
    /// A cancellation is sent before its call returns.
    fn wait_for_cancellations(&self) -> BoxFuture<'_, ()> {
        std::future::ready(()).boxed()
    }
}
