//! A panic anywhere in mcpstorm is a bug, and a run it touched cannot be
//! trusted: a worker task that panicked lost its calls, an aggregator that
//! panicked lost every figure. tokio catches a task's panic and the rest of
//! the run goes on, so the panic hook records each one here, and a scenario
//! during which one happened ends as an error saying so (exit 2), never as a
//! quiet PASS over fewer calls.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Panics since the start, and the first few messages.
static COUNT: AtomicU64 = AtomicU64::new(0);
static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());
const MESSAGES_KEPT: usize = 4;

/// Record every panic (then do what the hook before did: print it, or
/// restore the terminal first).
pub fn install_recorder() {
    let before = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut messages) = MESSAGES.lock()
            && messages.len() < MESSAGES_KEPT
        {
            messages.push(format!("{message}{place}"));
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
        before(info);
    }));
}

/// A mark to compare with later: how many panics so far.
pub fn mark() -> u64 {
    COUNT.load(Ordering::SeqCst)
}

/// What to say if a panic happened since `mark`.
pub fn since(mark: u64) -> Option<String> {
    let count = COUNT.load(Ordering::SeqCst);
    if count == mark {
        return None;
    }
    let first = MESSAGES
        .lock()
        .ok()
        .and_then(|m| m.get(mark as usize).cloned())
        .unwrap_or_default();
    Some(format!(
        "mcpstorm failed inside ({} panic(s), the first: {first}): this is a bug, and \
         the scenario's figures cannot be trusted; please report it",
        count - mark
    ))
}

/// For the tests of this very mechanism: `MCPSTORM_INJECT_PANIC_AT_CALL=N`
/// makes the load worker making call N panic.
pub fn injected_at_call() -> Option<u64> {
    static AT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *AT.get_or_init(|| {
        std::env::var("MCPSTORM_INJECT_PANIC_AT_CALL")
            .ok()
            .and_then(|n| n.parse().ok())
    })
}
