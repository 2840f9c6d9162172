//! `serve --http ADDR --legacy-sse`: the built-in target over the deprecated
//! HTTP+SSE transport (2024-11-05), as servers still deployed speak it.
//! A GET at [`SSE_PATH`] opens a stream (a session) whose first event,
//! `endpoint`, names `/messages?sessionId=…`; each message POSTed there is
//! accepted at once (202) and answered on the stream as a `message` event.
//! The session ends when its stream closes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::Value;
use tokio::sync::mpsc;

use super::{Reply, SESSION_STATE_BYTES, Server, error_reply, status_only, whole};
use crate::builtin_server::memory::ResidentBlock;
use crate::builtin_server::{ClientMessage, handle_request};
use crate::protocol::jsonrpc::{self, RpcError, codes};

/// Where a client opens its stream.
pub const SSE_PATH: &str = "/sse";
/// Where messages are POSTed (with `?sessionId=`).
const MESSAGES_PATH: &str = "/messages";
/// Events a stream holds for a client slow to read them: the tasks
/// answering its calls wait beyond that.
const STREAM_QUEUE: usize = 4096;

/// The open streams, by session id.
#[derive(Default)]
pub(super) struct Streams(Mutex<HashMap<String, Session>>);

struct Session {
    events: mpsc::Sender<Bytes>,
    /// Requests POSTed in it (`--session-expire-after`).
    requests: u64,
    /// Its `initialize` was answered: before it, nothing but ping is.
    initialized: bool,
    /// Freed with the session.
    _state: Option<ResidentBlock>,
}

/// Removes its session when the stream's body is dropped (the client went
/// away, or the connection closed).
struct Ends {
    server: Arc<Server>,
    id: String,
}

impl Drop for Ends {
    fn drop(&mut self) {
        if let Ok(mut streams) = self.server.streams.0.lock() {
            streams.remove(&self.id);
        }
    }
}

/// The paths this transport serves: the stream, and where messages go.
pub(super) fn is_transport_path(path: &str) -> bool {
    path == SSE_PATH || path == MESSAGES_PATH
}

pub(super) async fn handle(server: &Arc<Server>, request: Request<Incoming>) -> Reply {
    match (request.method(), request.uri().path()) {
        (&Method::GET, SSE_PATH) => open(server),
        (&Method::POST, MESSAGES_PATH) => post(server, request).await,
        (_, SSE_PATH | MESSAGES_PATH) => status_only(StatusCode::METHOD_NOT_ALLOWED),
        _ => status_only(StatusCode::NOT_FOUND),
    }
}

/// A new session: its stream, opened with the `endpoint` event.
fn open(server: &Arc<Server>) -> Reply {
    let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let (events, queued) = mpsc::channel::<Bytes>(STREAM_QUEUE);
    let endpoint = format!("event: endpoint\ndata: {MESSAGES_PATH}?sessionId={id}\n\n");
    let _ = events.try_send(Bytes::from(endpoint));
    if let Ok(mut streams) = server.streams.0.lock() {
        // `--max-sessions`: a stream is a session; one more is refused.
        if server
            .args
            .max_sessions
            .is_some_and(|most| streams.len() as u64 >= most)
        {
            return status_only(StatusCode::SERVICE_UNAVAILABLE);
        }
        server.leak_for_session();
        streams.insert(
            id.clone(),
            Session {
                events,
                requests: 0,
                initialized: false,
                _state: ResidentBlock::new(SESSION_STATE_BYTES),
            },
        );
    }
    let ends = Ends {
        server: server.clone(),
        id,
    };
    let frames = futures_util::stream::unfold((queued, ends), |(mut queued, ends)| async move {
        let event = queued.recv().await?;
        Some((Ok(Frame::data(event)), (queued, ends)))
    });
    let mut reply = Response::new(StreamBody::new(frames.boxed()).boxed_unsync());
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    reply
}

/// A message for a session: accepted at once, answered on its stream.
async fn post(server: &Arc<Server>, request: Request<Incoming>) -> Reply {
    let session = request.uri().query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("sessionId="))
            .map(str::to_string)
    });
    let entered = session.and_then(|id| Some((enter(server, &id)?, id)));
    let Some(((events, initialized), session)) = entered else {
        return error_reply(
            StatusCode::NOT_FOUND,
            &Value::Null,
            codes::INVALID_REQUEST,
            "Session not found",
        );
    };
    let message = match server.read_message(request.into_body()).await {
        Ok(message) => message,
        Err(refusal) => return refusal,
    };
    match ClientMessage::of(&message, server.state.fragile()) {
        ClientMessage::Request { .. } => {}
        ClientMessage::Notification | ClientMessage::Response => {
            crate::builtin_server::log_cancellation(&message);
            return accepted();
        }
        ClientMessage::Invalid => {
            return error_reply(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                codes::INVALID_REQUEST,
                "Invalid Request",
            );
        }
    }
    let server = server.clone();
    tokio::spawn(async move {
        let ClientMessage::Request { id, method } =
            ClientMessage::of(&message, server.state.fragile())
        else {
            return;
        };
        // The handshake era: nothing but ping before this session's
        // initialize (the server-wide flag would let another session's do).
        if !initialized && !server.state.fragile() && !matches!(method, "initialize" | "ping") {
            let refusal = RpcError::new(
                codes::INVALID_REQUEST,
                format!("{method} before initialize: send initialize first"),
            );
            let _ = events
                .send(event(&jsonrpc::response_line(&id, Err(refusal))))
                .await;
            return;
        }
        let (outbox, mut inbox) = mpsc::unbounded_channel();
        let (answer, _faults) =
            handle_request(method, message.get("params"), &server.state, &outbox).await;
        drop(outbox);
        if method == "initialize"
            && answer.is_ok()
            && let Ok(mut streams) = server.streams.0.lock()
            && let Some(open) = streams.get_mut(&session)
        {
            open.initialized = true;
        }
        while let Some(notification) = inbox.recv().await {
            if events.send(event(&notification)).await.is_err() {
                return;
            }
        }
        let _ = events
            .send(event(&jsonrpc::response_line(&id, answer)))
            .await;
    });
    accepted()
}

/// A message for session `id`: its stream and whether it was initialized,
/// unless there is no such session, or `--session-expire-after` ends it now
/// (its stream closes).
fn enter(server: &Server, id: &str) -> Option<(mpsc::Sender<Bytes>, bool)> {
    let mut streams = server.streams.0.lock().ok()?;
    let session = streams.get_mut(id)?;
    session.requests += 1;
    if server
        .args
        .session_expire_after
        .is_some_and(|n| session.requests > n)
    {
        streams.remove(id);
        return None;
    }
    Some((session.events.clone(), session.initialized))
}

/// What the official SDK's servers answer a message they took.
fn accepted() -> Reply {
    let mut reply = Response::new(whole("Accepted"));
    *reply.status_mut() = StatusCode::ACCEPTED;
    reply
}

/// One message as a `message` event.
fn event(message: &[u8]) -> Bytes {
    let mut text = b"event: message\ndata: ".to_vec();
    text.extend_from_slice(message.trim_ascii_end());
    text.extend_from_slice(b"\n\n");
    Bytes::from(text)
}
