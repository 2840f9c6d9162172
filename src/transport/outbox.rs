//! What waits to be written to a stdio server's stdin — mcpstorm's requests
//! and its answers to the server's own requests — and the task that writes
//! it. The queue counts its bytes: past [`BACKLOG_BYTES`] a sender waits for
//! room, so a server that does not read its stdin meets backpressure instead
//! of growing mcpstorm's memory (a server flooding `ping` requests without
//! reading the answers grew it by 2.5 GB in 6 s).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::sync::{Notify, mpsc};

/// Bytes queued for the server past which senders wait.
pub const BACKLOG_BYTES: usize = 8 * 1024 * 1024;

/// An empty line asks the writer to close the server's stdin.
const CLOSE_STDIN: Vec<u8> = Vec::new();

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    lines: mpsc::UnboundedSender<Vec<u8>>,
    queued_bytes: Arc<AtomicUsize>,
    drained: Arc<Notify>,
}

/// The line could not be queued: the writer is gone.
#[derive(Debug)]
pub struct WriterGone;

impl Outbox {
    /// Start the writer on `stdin`. `on_broken` runs if the server closes
    /// its stdin (a write fails).
    pub fn start(stdin: ChildStdin, on_broken: impl FnOnce() + Send + 'static) -> Outbox {
        let (lines, inbox) = mpsc::unbounded_channel();
        let outbox = Outbox {
            lines,
            queued_bytes: Arc::new(AtomicUsize::new(0)),
            drained: Arc::new(Notify::new()),
        };
        tokio::spawn(write_loop(stdin, inbox, outbox.clone(), on_broken));
        outbox
    }

    pub fn send(&self, line: Vec<u8>) -> Result<(), WriterGone> {
        let size = line.len();
        self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        self.lines.send(line).map_err(|_| {
            self.wrote(size);
            WriterGone
        })
    }

    /// Ask the writer to close the server's stdin once what is queued is written.
    pub fn close_stdin(&self) {
        let _ = self.lines.send(CLOSE_STDIN);
    }

    /// Returns once the queue is under its bound (at once, mostly).
    pub async fn room(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            // Registered before the check: a drain in between still wakes us.
            drained.as_mut().enable();
            if self.queued_bytes.load(Ordering::Relaxed) <= BACKLOG_BYTES {
                return;
            }
            drained.await;
        }
    }

    fn wrote(&self, bytes: usize) {
        // Saturating: the writer zeroes the count when it ends, and a send
        // that fails then takes its bytes back.
        let _ = self
            .queued_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |queued| {
                Some(queued.saturating_sub(bytes))
            });
        self.drained.notify_waiters();
    }
}

async fn write_loop(
    mut stdin: ChildStdin,
    mut inbox: mpsc::UnboundedReceiver<Vec<u8>>,
    outbox: Outbox,
    on_broken: impl FnOnce(),
) {
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Some(first) = inbox.recv().await {
        if first.is_empty() {
            break;
        }
        batch.extend_from_slice(&first);
        let mut close_after = false;
        // Whatever else is already queued goes out in the same write.
        while batch.len() < 1024 * 1024 {
            match inbox.try_recv() {
                Ok(line) if line.is_empty() => {
                    close_after = true;
                    break;
                }
                Ok(line) => batch.extend_from_slice(&line),
                Err(_) => break,
            }
        }
        let written = stdin.write_all(&batch).await;
        outbox.wrote(batch.len());
        if written.is_err() {
            on_broken();
            break;
        }
        batch.clear();
        // A burst of big requests must not keep its buffer for the whole run.
        batch.shrink_to(64 * 1024);
        if close_after {
            break;
        }
    }
    // Nothing more is written: no sender may wait for room that never comes.
    inbox.close();
    outbox.queued_bytes.store(0, Ordering::Relaxed);
    outbox.drained.notify_waiters();
    // Dropping stdin closes the pipe: the server sees EOF.
    drop(stdin);
}
