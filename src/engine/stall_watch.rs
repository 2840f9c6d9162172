//! Whether mcpstorm itself stopped running: a thread that wakes every
//! [`TICK`] and reports each wake-up that came [`STALL`] or more late. A
//! host that stops mcpstorm (a suspended VM, SIGSTOP, a starved CPU) makes
//! every call in flight look slow: without this, the server takes the blame
//! for seconds it was answering in.
//!
//! A plain thread rather than a task: it must see the process stop, not
//! queue behind the load on the runtime (late sends measure that).

use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::stats::Event;

/// How often the watch wakes.
const TICK: Duration = Duration::from_millis(50);
/// How late a wake-up must be to count as a stall: far beyond a busy
/// scheduler's delays (tens of milliseconds), well below what shows on a
/// latency chart as a server's slowness.
pub(crate) const STALL: Duration = Duration::from_millis(250);

/// Stops the watch when dropped (within microseconds: the thread's wait ends
/// at once), which lets go of its event sender.
pub struct StallWatch {
    _stop: Sender<()>,
}

pub fn start(events: UnboundedSender<Event>) -> StallWatch {
    let (stop, stopped) = channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("mcpstorm-stall-watch".into())
        .spawn(move || {
            let mut last = Instant::now();
            // Ends when the guard drops its sender (or sends, which nothing does).
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                let now = Instant::now();
                if let Some(lasted) = stalled(now.duration_since(last)) {
                    let event = Event::Stalled {
                        at: last + TICK,
                        lasted,
                    };
                    if events.send(event).is_err() {
                        return;
                    }
                }
                last = now;
            }
        });
    // Without the thread the run goes on unwatched: nothing to report then.
    drop(spawned);
    StallWatch { _stop: stop }
}

/// How long mcpstorm was stopped, from the time between two wake-ups one
/// tick apart, if that was a stall.
fn stalled(between_wakeups: Duration) -> Option<Duration> {
    let late = between_wakeups.saturating_sub(TICK);
    (late >= STALL).then_some(late)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_wakeup_late_by_the_threshold_is_a_stall() {
        assert_eq!(stalled(TICK), None);
        assert_eq!(stalled(TICK + STALL - Duration::from_millis(1)), None);
        assert_eq!(stalled(TICK + STALL), Some(STALL));
        assert_eq!(
            stalled(TICK + Duration::from_secs(7)),
            Some(Duration::from_secs(7))
        );
    }
}
