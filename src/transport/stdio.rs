//! stdio transport: newline-delimited JSON-RPC over the server's stdin/stdout.
//!
//! Three tasks per connection, none of which waits on the load workers:
//! - the writer batches queued lines into as few `write` calls as it can;
//! - the reader classifies each stdout line and routes responses by id;
//! - the stderr drain keeps only the tail, so a chatty server never blocks
//!   on a full pipe.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::process::ChildStdout;

use super::connection::{CloseReport, LAST_WORDS_WAIT, Transport};
use super::correlator::{Correlator, Reply};
use super::outbox::Outbox;
use super::process::{Pipes, ServerCommand, ServerProcess, SpawnError, Stopped};
use super::{RawReply, RequestError, TransportKind};
use crate::protocol::jsonrpc::RawFrame;
use crate::protocol::jsonrpc::{self, Params, sample_of};
use crate::protocol::untrusted::quote;

/// Default bound on one message from the server; a longer line is a protocol
/// error and is skipped without being held in memory.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// Stderr lines kept, and the longest kept line.
const STDERR_LINES_KEPT: usize = 200;
const STDERR_LINE_CHARS: usize = 500;

#[derive(Debug, Clone, Copy)]
pub struct StdioOptions {
    pub max_message_bytes: usize,
}

impl Default for StdioOptions {
    fn default() -> Self {
        StdioOptions {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// The last lines the server wrote to stderr.
#[derive(Debug, Default)]
pub struct StderrTail {
    lines: Mutex<VecDeque<String>>,
    total: AtomicU64,
    /// Pipes still being read into it.
    readers: tokio::sync::watch::Sender<usize>,
}

/// A pipe being read into a tail: counted from the moment the reader is made
/// (not when its task first runs) until it ends.
struct Reading(Arc<StderrTail>);

impl Reading {
    fn new(tail: Arc<StderrTail>) -> Reading {
        tail.readers.send_modify(|n| *n += 1);
        Reading(tail)
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.0.readers.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl StderrTail {
    /// Wait, at most `limit`, for the pipes to be read to their end: once a
    /// server has exited, its last words are still in the pipe (a child
    /// that holds it open is why the wait is bounded).
    pub async fn wait_drained(&self, limit: Duration) {
        let mut readers = self.readers.subscribe();
        let _ = tokio::time::timeout(limit, readers.wait_for(|n| *n == 0)).await;
    }

    /// Lines written since the start (kept or not).
    pub fn total_lines(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(super) fn push(&self, line: &[u8]) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let text = String::from_utf8_lossy(line);
        let text = quote(text.trim_end(), STDERR_LINE_CHARS);
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() == STDERR_LINES_KEPT {
                lines.pop_front();
            }
            lines.push_back(text);
        }
    }

    /// The newest `n` lines, oldest first.
    pub fn last(&self, n: usize) -> Vec<String> {
        self.lines
            .lock()
            .map(|lines| {
                lines
                    .iter()
                    .skip(lines.len().saturating_sub(n))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Set once the server's stdout is closed (it exited, crashed or hung up):
/// an atomic for the hot path, a watch for those who wait on it.
#[derive(Clone)]
struct Closed {
    flag: Arc<AtomicBool>,
    watch: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Closed {
    fn new() -> Self {
        Closed {
            flag: Arc::new(AtomicBool::new(false)),
            watch: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    fn set(&self) {
        self.flag.store(true, Ordering::Release);
        self.watch.send_replace(true);
    }

    fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

pub struct StdioConnection {
    process: ServerProcess,
    correlator: Arc<Correlator>,
    outbox: Outbox,
    closed: Closed,
    stderr: Arc<StderrTail>,
}

impl StdioConnection {
    /// Spawn a server whose wire counters and output tail continue those of
    /// an earlier one (a restart after a crash).
    pub fn spawn_sharing(
        command: &ServerCommand,
        options: StdioOptions,
        correlator: Arc<Correlator>,
        stderr_tail: Arc<StderrTail>,
    ) -> Result<Self, SpawnError> {
        let (
            process,
            Pipes {
                stdin,
                stdout,
                stderr,
            },
        ) = ServerProcess::spawn(command)?;
        let closed = Closed::new();
        let outbox = Outbox::start(stdin, {
            let (closed, correlator) = (closed.clone(), correlator.clone());
            move || {
                // The server closed its stdin: nothing sent from now on can be answered.
                closed.set();
                correlator.fail_all();
            }
        });
        tokio::spawn(read_loop(
            stdout,
            options.max_message_bytes,
            correlator.clone(),
            outbox.clone(),
            closed.clone(),
        ));
        tokio::spawn(drain_output(stderr, stderr_tail.clone(), None));
        tokio::spawn(close_on_exit(
            process.on_exit(),
            closed.clone(),
            correlator.clone(),
        ));
        Ok(StdioConnection {
            process,
            correlator,
            outbox,
            closed,
            stderr: stderr_tail,
        })
    }

    /// Send a request and wait for its response, at most `timeout`.
    pub async fn request(
        &self,
        method: &str,
        params: Option<&dyn Params>,
        timeout: Duration,
    ) -> Result<Reply, RequestError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // A server that does not read its stdin holds the sender up, within
        // the call's time, rather than grow the queue without end.
        if tokio::time::timeout_at(deadline, self.outbox.room())
            .await
            .is_err()
        {
            return Err(RequestError::Timeout(timeout));
        }
        let (id, reply) = self.correlator.register();
        // Checked after registering: the reader sets `closed` before failing all
        // pending requests, so a request can never slip in between and hang.
        if self.closed.is_set() {
            self.correlator.cancel(id);
            return Err(self.closed_error());
        }
        if self
            .outbox
            .send(jsonrpc::request_line(id, method, params))
            .is_err()
        {
            self.correlator.cancel(id);
            return Err(self.closed_error());
        }
        match tokio::time::timeout_at(deadline, reply).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(self.closed_error()),
            Err(_) => {
                self.correlator.time_out(id);
                // There is no stream to close over stdio: the client MUST
                // say it gave up, so the server can stop the work.
                if jsonrpc::cancellable(method) {
                    self.notify(
                        "notifications/cancelled",
                        Some(&jsonrpc::cancellation(id, timeout)),
                    );
                    self.correlator
                        .counters
                        .cancellations_sent
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(RequestError::Timeout(timeout))
            }
        }
    }

    /// Send a raw frame (a robustness probe) built around a fresh id, and
    /// wait for the response to that id or for one without a usable id.
    pub async fn probe(
        &self,
        build: impl FnOnce(u64) -> RawFrame,
        timeout: Duration,
    ) -> Result<RawReply, RequestError> {
        let correlator = &self.correlator;
        let (id, reply) = correlator.register();
        let anonymous = correlator.expect_anonymous();
        let mut line = build(id).bytes;
        line.push(b'\n');
        if self.closed.is_set() || self.outbox.send(line).is_err() {
            correlator.cancel(id);
            correlator.stop_expecting_anonymous();
            return Err(self.closed_error());
        }
        let answered = tokio::select! {
            answer = reply => answer.ok(),
            answer = anonymous => answer.ok(),
            _ = tokio::time::sleep(timeout) => {
                correlator.stop_expecting_anonymous();
                correlator.time_out(id);
                return Err(RequestError::Timeout(timeout));
            }
        };
        correlator.stop_expecting_anonymous();
        correlator.cancel(id);
        match answered {
            Some(reply) => Ok(RawReply::Response(reply.body)),
            // Its sender dropped: the connection failed every request.
            None => Err(self.closed_error()),
        }
    }

    pub fn notify(&self, method: &str, params: Option<&Value>) {
        let _ = self.outbox.send(jsonrpc::notification_line(method, params));
    }

    fn closed_error(&self) -> RequestError {
        RequestError::Closed(match self.process.exited() {
            Some(exit) => format!("server exited ({exit})"),
            None => "server closed its stdout".to_string(),
        })
    }

    /// Resolves when the server's stdout closes.
    pub async fn wait_closed(&self) {
        let mut watch = self.closed.watch.subscribe();
        let _ = watch.wait_for(|closed| *closed).await;
    }

    /// Close stdin (MCP's shutdown for stdio), then stop the process tree.
    pub async fn close(&self, grace: Duration) -> Stopped {
        self.outbox.close_stdin();
        self.process.stop(grace).await
    }
}

impl Transport for StdioConnection {
    fn kind(&self) -> TransportKind {
        TransportKind::Stdio
    }

    fn request<'a>(
        &'a self,
        method: &'a str,
        params: Option<&'a dyn Params>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Reply, RequestError>> {
        StdioConnection::request(self, method, params, timeout).boxed()
    }

    fn probe<'a>(
        &'a self,
        build: Box<dyn FnOnce(u64) -> RawFrame + Send + 'a>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<RawReply, RequestError>> {
        StdioConnection::probe(self, build, timeout).boxed()
    }

    fn notify<'a>(&'a self, method: &'a str, params: Option<&'a Value>) -> BoxFuture<'a, ()> {
        StdioConnection::notify(self, method, params);
        std::future::ready(()).boxed()
    }

    fn correlator(&self) -> Arc<Correlator> {
        self.correlator.clone()
    }

    fn output(&self) -> Arc<StderrTail> {
        self.stderr.clone()
    }

    fn pid(&self) -> Option<u32> {
        Some(self.process.pid())
    }

    fn process(&self) -> Option<&ServerProcess> {
        Some(&self.process)
    }

    /// True once the server's stdout has closed: nothing more will be answered.
    fn is_closed(&self) -> bool {
        self.closed.is_set()
    }

    fn wait_closed(&self) -> BoxFuture<'_, ()> {
        StdioConnection::wait_closed(self).boxed()
    }

    fn close(&self, grace: Duration) -> BoxFuture<'_, CloseReport> {
        async move {
            let stopped = StdioConnection::close(self, grace).await;
            self.stderr.wait_drained(LAST_WORDS_WAIT).await;
            CloseReport {
                exit: Some(stopped.exit),
                // Signalled by mcpstorm: not a server that died of a signal
                // (a crash) before it was asked.
                forced: stopped.sent.is_some(),
                session_end: None,
            }
        }
        .boxed()
    }

    /// mcpstorm spawned it: it can spawn it again.
    fn can_restart(&self) -> bool {
        true
    }
}

/// A line buffer grown past this by one big message is let go.
const LINE_CAPACITY_KEPT: usize = 1024 * 1024;

/// Bytes of an over-long line kept as its sample.
const SAMPLE_BYTES: usize = 256;

/// The outcome of reading one line with a size bound.
#[derive(Debug, PartialEq)]
enum LineRead {
    Line,
    TooLong(usize),
    Eof,
}

/// Read one `\n`-terminated line into `line`, holding at most `max` bytes of it.
/// Longer lines are consumed and dropped (their first bytes kept as a sample).
async fn read_bounded_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    line.clear();
    let mut total = 0usize;
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(match (total, too_long) {
                (0, _) => LineRead::Eof,
                (_, true) => LineRead::TooLong(total),
                _ => LineRead::Line,
            });
        }
        let newline = buf.iter().position(|&b| b == b'\n');
        let chunk = &buf[..newline.unwrap_or(buf.len())];
        total += chunk.len();
        if too_long {
            // Already dropping; the head kept in `line` is the sample.
        } else if total > max {
            too_long = true;
            let keep = SAMPLE_BYTES.saturating_sub(line.len()).min(chunk.len());
            line.extend_from_slice(&chunk[..keep]);
            line.truncate(SAMPLE_BYTES);
            line.shrink_to(4 * SAMPLE_BYTES);
        } else {
            line.extend_from_slice(chunk);
        }
        let consumed = chunk.len() + usize::from(newline.is_some());
        reader.consume(consumed);
        if newline.is_some() {
            return Ok(if too_long {
                LineRead::TooLong(total)
            } else {
                LineRead::Line
            });
        }
    }
}

/// How long the reader gets, once the server has exited, to read what the
/// server wrote before it went.
const READ_AFTER_EXIT: Duration = Duration::from_millis(250);

/// A server that exits is gone even if its stdout stays open (a child it
/// left holds it): its calls fail at once rather than at their timeout.
async fn close_on_exit(
    exited: impl std::future::Future<Output = ()>,
    closed: Closed,
    correlator: Arc<Correlator>,
) {
    exited.await;
    let mut watch = closed.watch.subscribe();
    let stdout_closed = watch.wait_for(|closed| *closed);
    if tokio::time::timeout(READ_AFTER_EXIT, stdout_closed)
        .await
        .is_err()
    {
        closed.set();
        correlator.fail_all();
    }
}

async fn read_loop(
    stdout: ChildStdout,
    max_message_bytes: usize,
    correlator: Arc<Correlator>,
    outbox: Outbox,
    closed: Closed,
) {
    let mut reader = BufReader::with_capacity(256 * 1024, stdout);
    let mut line = Vec::with_capacity(4096);
    let counters = &correlator.counters;
    loop {
        match read_bounded_line(&mut reader, &mut line, max_message_bytes).await {
            Ok(LineRead::Line) => {}
            Ok(LineRead::TooLong(size)) => {
                counters.protocol_violation(format!(
                    "message of {size} bytes exceeds the {max_message_bytes}-byte limit: {}",
                    sample_of(&line)
                ));
                continue;
            }
            Ok(LineRead::Eof) | Err(_) => break,
        }
        let text = line.strip_suffix(b"\r").unwrap_or(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let received_at = Instant::now();
        if let Some(answer) = correlator.route(jsonrpc::classify(text), received_at) {
            let _ = outbox.send(answer);
            // A server that sends requests but does not read the answers
            // meets backpressure: its output is not read until they drain.
            outbox.room().await;
        }
        if line.capacity() > LINE_CAPACITY_KEPT {
            // One huge message must not keep its buffer for the whole run.
            line = Vec::with_capacity(4096);
        }
    }
    closed.set();
    correlator.fail_all();
}

/// Called with each line of output as it is read.
pub(super) type LineWatch = Box<dyn FnMut(&[u8]) + Send>;

/// Keep the tail of a server's output (stderr; for an HTTP server stdout too),
/// reading it continuously so a chatty server never blocks on a full pipe.
/// Each line is also offered to `watch` (e.g. to find the address an HTTP
/// server prints).
pub(super) fn drain_output<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    output: R,
    tail: Arc<StderrTail>,
    mut watch: Option<LineWatch>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let reading = Reading::new(tail.clone());
    async move {
        let _reading = reading;
        let mut reader = BufReader::with_capacity(64 * 1024, output);
        let mut line = Vec::with_capacity(1024);
        // Lines longer than this are cut: only a display tail is kept.
        while let Ok(LineRead::Line | LineRead::TooLong(_)) =
            read_bounded_line(&mut reader, &mut line, 16 * 1024).await
        {
            tail.push(&line);
            if let Some(watch) = watch.as_mut() {
                watch(&line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], max: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(8, input);
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            let read = read_bounded_line(&mut reader, &mut line, max)
                .await
                .unwrap();
            if read == LineRead::Eof {
                return out;
            }
            out.push((read, line.clone()));
        }
    }

    #[tokio::test]
    async fn bounded_lines_split_and_cap() {
        let lines = read_all(b"ab\n0123456789abcdef\nlast", 10).await;
        assert_eq!(lines[0], (LineRead::Line, b"ab".to_vec()));
        assert_eq!(lines[1].0, LineRead::TooLong(16));
        assert_eq!(lines[2], (LineRead::Line, b"last".to_vec()));
        assert_eq!(lines.len(), 3);
    }
}
