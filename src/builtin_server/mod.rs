//! `mcpstorm serve`: the built-in MCP server. It is the demo default and the
//! ground truth of the tests, so every fault knob does exactly what it says.
//!
//! Requests are handled concurrently (one task each), as the official SDKs'
//! servers do, so a slow request does not queue the others behind it.

mod cpu_thread;
pub(crate) mod era;
pub(crate) mod faults;
pub(crate) mod handlers;
pub(crate) mod http;
pub(crate) mod memory;
pub(crate) mod tls;

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

pub use faults::FaultKnobs;
use faults::{FaultState, RequestFaults};
use handlers::ToolPlan;

use crate::protocol::jsonrpc::{self, RpcError, codes};

/// Capacity a writer's batch buffer keeps between writes.
pub const BATCH_KEPT: usize = 64 * 1024;

/// Exit code of a crash asked for with `--crash-after`.
pub const CRASH_EXIT_CODE: i32 = 70;

/// Serve MCP over stdin/stdout until stdin closes.
pub async fn serve_stdio(knobs: FaultKnobs) -> std::io::Result<()> {
    let state = Arc::new(FaultState::new(knobs));
    let (outbox, mut inbox) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        let mut batch = Vec::with_capacity(BATCH_KEPT);
        while let Some(first) = inbox.recv().await {
            batch.extend_from_slice(&first);
            while let Ok(more) = inbox.try_recv() {
                batch.extend_from_slice(&more);
            }
            if stdout.write_all(&batch).await.is_err() || stdout.flush().await.is_err() {
                break;
            }
            batch.clear();
            // One huge message must not keep its buffer for the life of the server.
            batch.shrink_to(BATCH_KEPT);
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut lines_read = 0u64;
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            // Invalid UTF-8: answer as the specification says for unparsable input.
            Err(_) => {
                let _ = outbox.send(parse_error());
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        lines_read += 1;
        if let Some(stall) = state.stall_after_line(lines_read) {
            tokio::time::sleep(stall).await;
        }
        let state = state.clone();
        let outbox = outbox.clone();
        tokio::spawn(async move {
            if let Some(reply) = handle_line(&line, &state, &outbox).await {
                let _ = outbox.send(reply);
            }
        });
    }
    drop(outbox);
    // Let in-flight requests finish writing before the process ends.
    let _ = writer.await;
    Ok(())
}

/// `--fragile`: what a server with a fixed-size read buffer does.
fn crash_on_huge_request(bytes: usize) -> ! {
    eprintln!("mcpstorm serve: a {bytes}-byte request overflowed the buffer (--fragile)");
    std::process::exit(CRASH_EXIT_CODE);
}

fn parse_error() -> Vec<u8> {
    jsonrpc::response_line(
        &Value::Null,
        Err(RpcError::new(codes::PARSE_ERROR, "Parse error")),
    )
}

/// What a client sent, as the target reads it.
enum ClientMessage<'a> {
    Request {
        id: Value,
        method: &'a str,
    },
    /// A method without an id.
    Notification,
    /// An id with `result` or `error` and no method.
    Response,
    Invalid,
}

impl<'a> ClientMessage<'a> {
    /// `lenient`: accept any `jsonrpc` member (`--fragile`).
    fn of(message: &'a Value, lenient: bool) -> Self {
        if !lenient && message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return ClientMessage::Invalid;
        }
        let id = message.get("id");
        let method = message.get("method");
        match (id, method) {
            (Some(id), Some(Value::String(method))) => ClientMessage::Request {
                id: id.clone(),
                method,
            },
            (None, Some(_)) => ClientMessage::Notification,
            (Some(_), None)
                if message.get("result").is_some() || message.get("error").is_some() =>
            {
                ClientMessage::Response
            }
            _ => ClientMessage::Invalid,
        }
    }
}

/// A client's `notifications/cancelled` is said on stderr: the target's own
/// record of what it was told, for the tests to compare with mcpstorm's count.
pub(crate) fn log_cancellation(message: &Value) {
    if message.get("method").and_then(Value::as_str) == Some("notifications/cancelled") {
        let params = message.get("params");
        let field = |key: &str| params.and_then(|p| p.get(key)).cloned().unwrap_or_default();
        eprintln!(
            "mcpstorm serve: request {} cancelled by the client ({})",
            field("requestId"),
            field("reason")
        );
    }
}

/// Handle one line; `None` when nothing is to be answered (a notification).
async fn handle_line(
    line: &str,
    state: &FaultState,
    outbox: &mpsc::UnboundedSender<Vec<u8>>,
) -> Option<Vec<u8>> {
    if state.crashes_on(line.len()) {
        crash_on_huge_request(line.len());
    }
    let Ok(message) = serde_json::from_str::<Value>(line) else {
        return Some(parse_error());
    };
    let (id, method) = match ClientMessage::of(&message, state.fragile()) {
        ClientMessage::Request { id, method } => (id, method),
        ClientMessage::Notification => {
            log_cancellation(&message);
            return None; // nothing to answer
        }
        // The target never asks the client anything, so a response is invalid here.
        ClientMessage::Response | ClientMessage::Invalid => {
            let invalid = RpcError::new(codes::INVALID_REQUEST, "Invalid Request");
            return Some(jsonrpc::response_line(&Value::Null, Err(invalid)));
        }
    };
    let params = message.get("params");
    let (answer, faults) = handle_request(method, params, state, outbox).await;
    let reply = jsonrpc::response_line(&id, answer);
    if let Some(faults) = faults {
        if faults.garbage {
            let line = format!(
                "[target] handled request {} (log text on stdout)\n",
                faults.number
            );
            let _ = outbox.send(line.into_bytes());
        }
        if faults.huge_line {
            // One line, no newline until the end: a reader must bound it.
            let mut line = vec![b'x'; state.huge_line_bytes()];
            line.push(b'\n');
            let _ = outbox.send(line);
        }
        if faults.duplicate {
            let _ = outbox.send(reply.clone());
        }
        if faults.stray {
            let stray = Value::from(1_000_000_000 + faults.number);
            let _ = outbox.send(jsonrpc::response_line(&stray, Ok(json!({}))));
        }
    }
    Some(reply)
}

/// `--stderr-kb`: lines of text on stderr, written (and blocking) as a chatty
/// server's logging would.
fn flood_stderr(bytes: usize, number: u64) {
    use std::io::Write;
    let line = format!("[target] request {number}: {}\n", "lorem ipsum ".repeat(8));
    let mut err = std::io::stderr().lock();
    for _ in 0..bytes.div_ceil(line.len()) {
        if err.write_all(line.as_bytes()).is_err() {
            return;
        }
    }
}

/// Answer one request; also returns the faults the knobs chose for it (none for `initialize`).
async fn handle_request(
    method: &str,
    params: Option<&Value>,
    state: &FaultState,
    outbox: &mpsc::UnboundedSender<Vec<u8>>,
) -> (Result<Value, RpcError>, Option<RequestFaults>) {
    // Params are an object or an array (JSON-RPC 2.0), or absent.
    if params.is_some_and(|p| !p.is_object() && !p.is_array()) {
        let refusal = if state.fragile() {
            // As a server that calls a method on them would fail.
            RpcError::new(codes::INTERNAL_ERROR, "params.get is not a function")
        } else {
            RpcError::new(codes::INVALID_PARAMS, "Invalid params: must be an object")
        };
        return (Err(refusal), None);
    }
    let modern = match era::admit(state.eras(), method, params) {
        Ok(modern) => modern,
        Err(refused) => return (Err(refused), None),
    };
    match method {
        "initialize" => {
            let answer = handlers::initialize(params);
            if answer.is_ok() {
                state
                    .initialized
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            return (answer, None);
        }
        "server/discover" => return (Ok(era::complete(era::discover())), None),
        // The handshake era: nothing but ping before initialize. (Over HTTP
        // a request without a session never gets this far.)
        "ping" => {}
        _ if !modern
            && !state.fragile()
            && !state.initialized.load(std::sync::atomic::Ordering::Relaxed) =>
        {
            let refusal = RpcError::new(
                codes::INVALID_REQUEST,
                format!("{method} before initialize: send initialize first"),
            );
            return (Err(refusal), None);
        }
        _ => {}
    }
    let tool = (method == "tools/call")
        .then(|| params.and_then(|p| p.get("name")).and_then(Value::as_str))
        .map(|name| name.unwrap_or(""));
    let faults = state.on_request(tool);
    if state.stderr_bytes() > 0 {
        flood_stderr(state.stderr_bytes(), faults.number);
    }
    let answer = answer(method, params, state, outbox, &faults).await;
    let answer = if modern {
        answer.map(era::complete)
    } else {
        answer
    };
    (answer, Some(faults))
}

async fn answer(
    method: &str,
    params: Option<&Value>,
    state: &FaultState,
    outbox: &mpsc::UnboundedSender<Vec<u8>>,
    faults: &RequestFaults,
) -> Result<Value, RpcError> {
    if faults.crash {
        eprintln!(
            "mcpstorm serve: crashing on request {} as asked (--crash-after)",
            faults.number
        );
        std::process::exit(CRASH_EXIT_CODE);
    }
    if faults.log {
        let params = json!({"level": "info", "logger": "mcpstorm-target",
                            "data": format!("handled {} requests", faults.number)});
        let _ = outbox.send(jsonrpc::notification_line(
            "notifications/message",
            Some(&params),
        ));
    }
    // Held to the answer: with --workers, a request waits for a free one.
    let _worker = state.worker().await;
    if !faults.delay.is_zero() {
        state.sleep(faults.delay).await;
    }
    state.busy().await;
    match method {
        "ping" => Ok(json!({})),
        "tools/list" => Ok(handlers::tools_list()),
        "tools/call" if faults.fail_tool => Ok(handlers::failing_tool_result(faults.number)),
        "tools/call" => match handlers::call_tool(params, state)? {
            ToolPlan::Answer(result) => Ok(result),
            ToolPlan::Sleep(duration) => {
                tokio::time::sleep(duration).await;
                Ok(json!({"content": [{"type": "text",
                    "text": format!("slept {} ms", duration.as_secs_f64() * 1000.0)}]}))
            }
        },
        "resources/list" => Ok(handlers::resources_list()),
        "resources/read" => handlers::resources_read(params, state),
        "prompts/list" => Ok(handlers::prompts_list()),
        "prompts/get" => handlers::prompts_get(params),
        "logging/setLevel" => Ok(json!({})),
        _ if state.fragile() => Ok(json!({})),
        other => Err(RpcError::new(
            codes::METHOD_NOT_FOUND,
            format!("Method not found: {other}"),
        )),
    }
}
