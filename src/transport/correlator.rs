//! Matching responses to requests by id, with many requests in flight.
//!
//! Ids are issued in order from 1, so every id the server may legitimately send
//! back is below `next_id`. That lets us tell, with bounded memory, a duplicate
//! (issued, already answered) from an unknown id (never issued, or wrong type)
//! and from a late answer to a request that already timed out.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::protocol::jsonrpc::{self, Incoming, ResponseBody, RpcError, codes};
use crate::protocol::untrusted::{QUOTE_CHARS, quote, quote_fmt};

/// A response delivered to the request that waits for it.
#[derive(Debug)]
pub struct Reply {
    pub body: ResponseBody,
    /// When the reader parsed it: latency ends here, not when a worker wakes up.
    pub received_at: Instant,
}

/// Counters of everything the wire did besides answering requests. Atomics: the
/// reader task writes, the stats aggregator reads, neither waits on the other.
#[derive(Debug, Default)]
pub struct WireCounters {
    pub(super) responses: AtomicU64,
    pub(super) duplicate_ids: AtomicU64,
    pub(super) unknown_ids: AtomicU64,
    pub(super) missing_ids: AtomicU64,
    pub(super) late_responses: AtomicU64,
    pub(super) protocol_violations: AtomicU64,
    pub(super) notifications: AtomicU64,
    pub(super) server_requests: AtomicU64,
    /// HTTP: requests answered 404 for a session the server no longer knows.
    pub(super) sessions_expired: AtomicU64,
    /// HTTP: non-2xx answers that carried no JSON-RPC response for the request.
    pub(super) http_errors: AtomicU64,
    /// `notifications/cancelled` sent for calls given up on (timed out).
    pub(super) cancellations_sent: AtomicU64,
    samples: Mutex<VecDeque<String>>,
    /// HTTP: how long each connection took to open (TCP connect, TLS and
    /// HTTP handshakes), in microseconds: counted apart from calls.
    connection_setups: Mutex<Option<hdrhistogram::Histogram<u64>>>,
    /// TLS handshakes, and those that resumed an earlier session.
    tls_handshakes: AtomicU64,
    tls_resumed: AtomicU64,
    /// Connections that speak HTTP/2.
    http2_connections: AtomicU64,
    /// HTTP: requests the server refused for their credentials (401 or 403
    /// with `WWW-Authenticate`): auth failures, not server errors.
    pub(super) auth_failures: AtomicU64,
    /// OAuth token requests: how many, how many failed, and their times in
    /// microseconds (total and longest), counted apart from calls.
    token_fetches: AtomicU64,
    token_fetches_failed: AtomicU64,
    token_fetch_total_us: AtomicU64,
    token_fetch_max_us: AtomicU64,
}

/// The OAuth token requests made so far: counted and timed apart from calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TokenFetches {
    pub count: u64,
    pub failed: u64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

/// How long connections took to open: their count and spread, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConnectionSetups {
    pub opened: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// TLS handshakes among them, and how many resumed a session.
    pub tls_handshakes: u64,
    pub tls_resumed: u64,
    /// Connections that speak HTTP/2 (the others speak HTTP/1.1).
    pub http2: u64,
}

/// The counters at one moment, read by the stats aggregator; only the
/// transports count.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WireCount {
    pub responses: u64,
    pub duplicate_ids: u64,
    pub unknown_ids: u64,
    pub missing_ids: u64,
    pub late_responses: u64,
    pub protocol_violations: u64,
    pub notifications: u64,
    pub server_requests: u64,
    pub sessions_expired: u64,
    pub http_errors: u64,
    pub cancellations_sent: u64,
    pub auth_failures: u64,
}

impl WireCount {
    /// Ids that broke correlation: duplicate, unknown, missing.
    pub fn correlation_violations(&self) -> u64 {
        self.duplicate_ids + self.unknown_ids + self.missing_ids
    }
}

/// How many violation samples are kept (the newest).
const SAMPLES_KEPT: usize = 8;

impl WireCounters {
    /// Every counter, as it stands.
    pub fn read(&self) -> WireCount {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WireCount {
            responses: load(&self.responses),
            duplicate_ids: load(&self.duplicate_ids),
            unknown_ids: load(&self.unknown_ids),
            missing_ids: load(&self.missing_ids),
            late_responses: load(&self.late_responses),
            protocol_violations: load(&self.protocol_violations),
            notifications: load(&self.notifications),
            server_requests: load(&self.server_requests),
            sessions_expired: load(&self.sessions_expired),
            http_errors: load(&self.http_errors),
            cancellations_sent: load(&self.cancellations_sent),
            auth_failures: load(&self.auth_failures),
        }
    }

    /// An OAuth token request took `took`, and got a token or not.
    pub fn token_fetched(&self, took: std::time::Duration, got_one: bool) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.token_fetches.fetch_add(1, Ordering::Relaxed);
        if !got_one {
            self.token_fetches_failed.fetch_add(1, Ordering::Relaxed);
        }
        self.token_fetch_total_us
            .fetch_add(micros, Ordering::Relaxed);
        self.token_fetch_max_us.fetch_max(micros, Ordering::Relaxed);
    }

    /// The token requests so far; `None` before the first (no OAuth).
    pub fn token_fetches(&self) -> Option<TokenFetches> {
        let count = self.token_fetches.load(Ordering::Relaxed);
        let ms = |micros: u64| micros as f64 / 1000.0;
        (count > 0).then(|| TokenFetches {
            count,
            failed: self.token_fetches_failed.load(Ordering::Relaxed),
            mean_ms: ms(self.token_fetch_total_us.load(Ordering::Relaxed)) / count as f64,
            max_ms: ms(self.token_fetch_max_us.load(Ordering::Relaxed)),
        })
    }

    /// A connection was opened, as `setup` says.
    pub fn connection_opened(&self, setup: super::http_pool::Setup) {
        if setup.http2 {
            self.http2_connections.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(resumed) = setup.tls_resumed {
            self.tls_handshakes.fetch_add(1, Ordering::Relaxed);
            if resumed {
                self.tls_resumed.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Ok(mut setups) = self.connection_setups.lock() {
            // 1 µs to an hour, 3 significant digits (a setup beyond is
            // clamped): valid bounds, cannot fail.
            let histogram = setups.get_or_insert_with(|| {
                hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                    .expect("static histogram bounds are valid")
            });
            let micros = u64::try_from(setup.took.as_micros()).unwrap_or(u64::MAX);
            histogram.saturating_record(micros.max(1));
        }
    }

    /// The connections opened so far and how long they took; `None` before
    /// the first (stdio opens none).
    pub fn connection_setups(&self) -> Option<ConnectionSetups> {
        let setups = self.connection_setups.lock().ok()?;
        let histogram = setups.as_ref()?;
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(ConnectionSetups {
            opened: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.5)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
            tls_handshakes: self.tls_handshakes.load(Ordering::Relaxed),
            tls_resumed: self.tls_resumed.load(Ordering::Relaxed),
            http2: self.http2_connections.load(Ordering::Relaxed),
        })
    }

    /// Count a protocol violation and keep a sample of it.
    pub fn protocol_violation(&self, what: String) {
        self.protocol_violations.fetch_add(1, Ordering::Relaxed);
        self.sample(what);
    }

    /// Keep `what` (which may quote the server) as a sample: bounded and
    /// made safe to show, however much the server sent.
    fn sample(&self, what: String) {
        self.keep(quote(&what, QUOTE_CHARS));
    }

    /// [`WireCounters::sample`] for a message formatted from server data (a
    /// whole body, an id), never built longer than it is kept.
    fn sample_fmt(&self, what: std::fmt::Arguments<'_>) {
        self.keep(quote_fmt(what, QUOTE_CHARS));
    }

    fn keep(&self, bounded: String) {
        if let Ok(mut samples) = self.samples.lock() {
            if samples.len() == SAMPLES_KEPT {
                samples.pop_front();
            }
            samples.push_back(bounded);
        }
    }

    /// Take back one counted HTTP error status that turned out to be expected
    /// (a handshake-era server refusing the `server/discover` probe).
    pub fn excuse_http_error(&self) {
        let _ = self
            .http_errors
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    pub fn samples(&self) -> Vec<String> {
        self.samples
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Timed-out ids remembered to recognise late answers; beyond this many the
/// oldest are forgotten (a late answer to one then counts as a duplicate).
const TIMED_OUT_REMEMBERED: usize = 65_536;

#[derive(Default)]
struct TimedOut {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

pub struct Correlator {
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    timed_out: Mutex<TimedOut>,
    /// A bad-input probe waiting (one at a time): a response without a
    /// usable id — how a server answers a frame it could not read — is its
    /// answer, not a violation.
    anonymous: Mutex<Option<oneshot::Sender<Reply>>>,
    pub counters: WireCounters,
}

impl Default for Correlator {
    fn default() -> Self {
        Correlator {
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            timed_out: Mutex::new(TimedOut::default()),
            anonymous: Mutex::new(None),
            counters: WireCounters::default(),
        }
    }
}

impl Correlator {
    /// Issue a fresh id and the receiver its response will arrive on.
    pub fn register(&self) -> (u64, oneshot::Receiver<Reply>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(id, tx);
        }
        (id, rx)
    }

    /// The request gave up waiting; remember it so a late answer is not a violation.
    pub fn time_out(&self, id: u64) {
        let was_pending = self
            .pending
            .lock()
            .map(|mut p| p.remove(&id).is_some())
            .unwrap_or(false);
        if !was_pending {
            return;
        }
        if let Ok(mut timed_out) = self.timed_out.lock() {
            if timed_out.order.len() == TIMED_OUT_REMEMBERED
                && let Some(oldest) = timed_out.order.pop_front()
            {
                timed_out.set.remove(&oldest);
            }
            timed_out.set.insert(id);
            timed_out.order.push_back(id);
        }
    }

    /// Take the next response without a usable id (null or missing) as the
    /// answer to a probe, until `stop_expecting_anonymous`.
    pub fn expect_anonymous(&self) -> oneshot::Receiver<Reply> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut slot) = self.anonymous.lock() {
            *slot = Some(tx);
        }
        rx
    }

    pub fn stop_expecting_anonymous(&self) {
        if let Ok(mut slot) = self.anonymous.lock() {
            *slot = None;
        }
    }

    /// Forget a request whose send failed (it was never on the wire).
    pub fn cancel(&self, id: u64) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(&id);
        }
    }

    /// Fail every waiting request (the connection is gone): their receivers see
    /// the sender dropped and report a transport error.
    pub fn fail_all(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.clear();
        }
    }

    pub fn in_flight(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Take one classified message from the server: deliver a response, count
    /// the rest. Returns the answer the transport must send back when the
    /// message was a request from the server.
    pub fn route(&self, incoming: Incoming, received_at: Instant) -> Option<Vec<u8>> {
        let counters = &self.counters;
        match incoming {
            Incoming::Response { id, body } => {
                if let ResponseBody::Unusable(why) = &body {
                    counters.protocol_violation(why.clone());
                }
                self.deliver(id, body, received_at)
            }
            Incoming::Notification { .. } => {
                counters.notifications.fetch_add(1, Ordering::Relaxed);
            }
            Incoming::Request { id, method } => {
                counters.server_requests.fetch_add(1, Ordering::Relaxed);
                // mcpstorm declares no client capabilities, so it can only answer ping.
                let answer = if method == "ping" {
                    Ok(Value::Object(Default::default()))
                } else {
                    Err(RpcError::new(
                        codes::METHOD_NOT_FOUND,
                        format!("mcpstorm does not handle {method}"),
                    ))
                };
                return Some(jsonrpc::response_line(&id, answer));
            }
            Incoming::Invalid { reason, sample } => {
                counters.protocol_violation(format!("{reason}: {sample}"));
            }
        }
        None
    }

    /// Route one response to its request, or count why it could not be routed.
    pub fn deliver(&self, id: Option<Value>, body: ResponseBody, received_at: Instant) {
        let counters = &self.counters;
        if id.as_ref().is_none_or(Value::is_null)
            && let Some(probe) = self.anonymous.lock().ok().and_then(|mut slot| slot.take())
        {
            let _ = probe.send(Reply { body, received_at });
            return;
        }
        let Some(id) = id else {
            counters.missing_ids.fetch_add(1, Ordering::Relaxed);
            counters.sample_fmt(format_args!("response without id: {body:?}"));
            return;
        };
        let Some(n) = id.as_u64() else {
            counters.unknown_ids.fetch_add(1, Ordering::Relaxed);
            counters.sample_fmt(format_args!("response with wrong-typed id {id}"));
            return;
        };
        let waiting = self.pending.lock().ok().and_then(|mut p| p.remove(&n));
        if let Some(tx) = waiting {
            counters.responses.fetch_add(1, Ordering::Relaxed);
            // The requester may have just timed out and dropped its receiver.
            let _ = tx.send(Reply { body, received_at });
            return;
        }
        let was_timed_out = self
            .timed_out
            .lock()
            .map(|mut t| t.set.remove(&n))
            .unwrap_or(false);
        if was_timed_out {
            counters.late_responses.fetch_add(1, Ordering::Relaxed);
        } else if n >= 1 && n < self.next_id.load(Ordering::Relaxed) {
            counters.duplicate_ids.fetch_add(1, Ordering::Relaxed);
            counters.sample(format!("second response for id {n}"));
        } else {
            counters.unknown_ids.fetch_add(1, Ordering::Relaxed);
            counters.sample(format!("response for id {n}, which was never sent"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jsonrpc::ResultText;
    use serde_json::json;

    fn ok() -> ResponseBody {
        ResponseBody::Result(ResultText::from_value(&json!({})))
    }

    #[test]
    fn every_kind_of_mismatch_is_counted_once() {
        let c = Correlator::default();
        let (a, mut rx_a) = c.register();
        let (b, _rx_b) = c.register();
        let now = Instant::now();
        c.deliver(Some(json!(a)), ok(), now);
        assert!(rx_a.try_recv().is_ok());
        c.deliver(Some(json!(a)), ok(), now); // duplicate
        c.deliver(Some(json!(99)), ok(), now); // never issued
        c.deliver(Some(json!(b.to_string())), ok(), now); // wrong type
        c.deliver(None, ok(), now); // missing
        c.time_out(b);
        c.deliver(Some(json!(b)), ok(), now); // late, not a violation
        let w = &c.counters;
        assert_eq!(w.responses.load(Ordering::Relaxed), 1);
        assert_eq!(w.duplicate_ids.load(Ordering::Relaxed), 1);
        assert_eq!(w.unknown_ids.load(Ordering::Relaxed), 2);
        assert_eq!(w.missing_ids.load(Ordering::Relaxed), 1);
        assert_eq!(w.late_responses.load(Ordering::Relaxed), 1);
        assert_eq!(w.read().correlation_violations(), 4);
        assert_eq!(c.in_flight(), 0);
    }
}
