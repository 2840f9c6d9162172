//! A microsecond-precise wait inside the async runtime: the open models'
//! schedules keep to it, and the built-in target's `--latency-ms` sleeps
//! on a [`SharedTimer`] made of one (so a known service time is that time,
//! not the next millisecond).
//!
//! tokio's own timer works in whole milliseconds and rounds up, which would
//! make every send up to 1–2 ms late by itself. A Linux `timerfd` fires with
//! the kernel's high-resolution timer instead, and its readiness arrives
//! through the runtime's I/O driver like a socket's: no scheduling thread of
//! its own, so no cross-thread hand-off (a futex wake-up, the main cost of a
//! call at moderate rates) per call.
//!
//! The timer is periodic: armed once with the schedule's interval, it fires
//! at every due instant without a system call to set it again. It is
//! re-armed only when the schedule moves (the load dial turned, a pause).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};

/// Many precise sleeps on one timer (one descriptor, however many sleep at
/// once): a task keeps the deadlines and wakes each sleeper at its own.
pub struct SharedTimer {
    deadlines: mpsc::UnboundedSender<(Instant, oneshot::Sender<()>)>,
}

impl SharedTimer {
    /// Start the timer's task on the current runtime; `None` if the kernel
    /// gives no timer.
    pub fn start() -> Option<SharedTimer> {
        let mut pacer = Pacer::new().ok()?;
        let (deadlines, mut asked) = mpsc::unbounded_channel::<(Instant, oneshot::Sender<()>)>();
        tokio::spawn(async move {
            // Earliest first: (deadline, order asked, whom to wake).
            let mut waiting: BinaryHeap<Reverse<(Instant, u64, Sleeper)>> = BinaryHeap::new();
            let mut order = 0u64;
            loop {
                let next = waiting.peek().map(|Reverse((due, _, _))| *due);
                tokio::select! {
                    sleeper = asked.recv() => match sleeper {
                        Some((due, wake)) => {
                            order += 1;
                            waiting.push(Reverse((due, order, Sleeper(wake))));
                        }
                        None => return,
                    },
                    slept = async {
                        match next {
                            Some(due) => pacer.sleep_until(due, Duration::ZERO).await,
                            None => std::future::pending().await,
                        }
                    } => {
                        if slept.is_err() {
                            return;
                        }
                        let now = Instant::now();
                        while waiting.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
                            if let Some(Reverse((_, _, Sleeper(wake)))) = waiting.pop() {
                                let _ = wake.send(());
                            }
                        }
                    }
                }
            }
        });
        Some(SharedTimer { deadlines })
    }

    /// Wait `duration` (tokio's own timer, to the next millisecond, if this
    /// one has stopped).
    pub async fn sleep(&self, duration: Duration) {
        let (wake, woken) = oneshot::channel();
        if self
            .deadlines
            .send((Instant::now() + duration, wake))
            .is_err()
            || woken.await.is_err()
        {
            tokio::time::sleep(duration).await;
        }
    }
}

/// A sleeper's wake-up, ordered by nothing (the deadline and order decide).
struct Sleeper(oneshot::Sender<()>);

impl PartialEq for Sleeper {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Sleeper {}
impl PartialOrd for Sleeper {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Sleeper {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

pub struct Pacer {
    timer: AsyncFd<OwnedFd>,
    /// The next instant the armed timer fires at, and its interval: while
    /// the schedule keeps to it, the timer needs no new setting.
    armed: Option<(Instant, Duration)>,
    /// How many times the timer was set (what the periodic timer saves).
    #[cfg(test)]
    settings: u32,
}

impl Pacer {
    pub fn new() -> io::Result<Pacer> {
        // SAFETY: timerfd_create takes no pointers; a non-negative result is
        // a new descriptor that nothing else owns.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the AsyncFd owns the descriptor for its whole life, so it
        // stays open and the same.
        let timer = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Pacer {
            timer,
            armed: None,
            #[cfg(test)]
            settings: 0,
        })
    }

    /// Return at `due`, or at once if it has passed; `then_every` is the
    /// interval the schedule expects to keep after it.
    pub async fn sleep_until(&mut self, due: Instant, then_every: Duration) -> io::Result<()> {
        let on_schedule = self.armed == Some((due, then_every));
        self.armed = Some((due + then_every, then_every)).filter(|_| on_schedule);
        let Some(wait) = due
            .checked_duration_since(Instant::now())
            .filter(|w| !w.is_zero())
        else {
            return Ok(());
        };
        if !on_schedule {
            // Arming replaces the earlier setting and clears expirations not
            // yet read.
            self.arm(wait, then_every)?;
            self.armed = Some((due + then_every, then_every));
        }
        loop {
            let mut ready = self.timer.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a buffer of 8.
            let read = unsafe {
                libc::read(
                    self.timer.get_ref().as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            if read != 8 {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::WouldBlock {
                    return Err(error);
                }
            }
            // Read to empty: without this the next wait would find the
            // readiness still set and spend a read learning otherwise.
            ready.clear_ready();
            // An expiry left unread while sends ran late, or readiness left
            // over from an abandoned wait, is not this one's: wait on.
            if read == 8 && Instant::now() >= due {
                return Ok(());
            }
        }
    }

    fn arm(&mut self, first: Duration, every: Duration) -> io::Result<()> {
        let timespec = |d: Duration| libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        };
        let setting = libc::itimerspec {
            it_interval: timespec(every),
            it_value: timespec(first),
        };
        // SAFETY: both pointers are to valid itimerspec values (the old
        // setting is not asked for).
        let set = unsafe {
            libc::timerfd_settime(
                self.timer.get_ref().as_raw_fd(),
                0,
                &setting,
                std::ptr::null_mut(),
            )
        };
        if set < 0 {
            return Err(io::Error::last_os_error());
        }
        #[cfg(test)]
        {
            self.settings += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn wakes_on_time_and_never_early() {
        let mut pacer = Pacer::new().expect("a timerfd");
        for wait_us in [300u64, 1500, 4000] {
            // Never early, every time. How late depends on when the machine
            // gives this thread a core, so precision is judged on the best of
            // up to 50 waits: one on time proves the timer itself is precise
            // (every one within a few µs on a quiet machine).
            let mut best = Duration::MAX;
            for _ in 0..50 {
                let due = Instant::now() + Duration::from_micros(wait_us);
                pacer.sleep_until(due, EVERY).await.expect("the wait");
                let woke = Instant::now();
                assert!(woke >= due, "woke before its due instant");
                best = best.min(woke - due);
                if best < Duration::from_micros(500) {
                    break;
                }
            }
            assert!(
                best < Duration::from_micros(500),
                "{wait_us} µs: late by at least {best:?} in 50 waits"
            );
        }
    }

    #[tokio::test]
    async fn an_abandoned_wait_leaves_no_early_wake() {
        let mut pacer = Pacer::new().expect("a timerfd");
        // Armed for 20 ms, abandoned, and left to expire unread.
        let abandoned = tokio::time::timeout(
            Duration::from_millis(2),
            pacer.sleep_until(Instant::now() + Duration::from_millis(20), EVERY),
        )
        .await;
        assert!(abandoned.is_err());
        std::thread::sleep(Duration::from_millis(30));
        let due = Instant::now() + Duration::from_millis(5);
        pacer.sleep_until(due, EVERY).await.expect("the wait");
        assert!(Instant::now() >= due, "the stale expiry woke the new wait");
    }

    #[tokio::test]
    async fn a_steady_schedule_sets_the_timer_once_and_late_sends_wake_nothing_early() {
        let mut pacer = Pacer::new().expect("a timerfd");
        let every = Duration::from_micros(500);
        let mut due = Instant::now() + every;
        for call in 0..200 {
            pacer.sleep_until(due, every).await.expect("the wait");
            assert!(Instant::now() >= due, "call {call} woke early");
            if call == 100 {
                // Sends ran late: ten expirations pile up unread, and the
                // next due instants have passed by the time they are asked.
                std::thread::sleep(Duration::from_millis(5));
            }
            due += every;
        }
        assert_eq!(pacer.settings, 1, "set once for the whole schedule");
        // The dial turned: a new interval sets the timer again — once, for
        // a first due instant still ahead when asked (a passed one returns
        // at once, setting nothing: a busy machine may have let it pass).
        let faster = every / 2;
        let start = Instant::now() + Duration::from_millis(50);
        let ahead = Instant::now() < start;
        pacer.sleep_until(start, faster).await.expect("the wait");
        pacer
            .sleep_until(start + faster, faster)
            .await
            .expect("the wait");
        if ahead {
            assert_eq!(pacer.settings, 2);
        }
    }

    #[tokio::test]
    async fn a_past_instant_returns_at_once() {
        let mut pacer = Pacer::new().expect("a timerfd");
        let past = Instant::now() - Duration::from_millis(5);
        pacer.sleep_until(past, EVERY).await.expect("no wait");
    }
}
