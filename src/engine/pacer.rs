//! A microsecond-precise wait for the open model's schedule, inside the
//! async runtime.
//!
//! tokio's own timer works in whole milliseconds and rounds up, which would
//! make every send up to 1–2 ms late by itself. A Linux `timerfd` armed for
//! each due instant fires with the kernel's high-resolution timer instead, and
//! its readiness arrives through the runtime's I/O driver like a socket's: no
//! scheduling thread of its own, so no cross-thread hand-off (a futex wake-up,
//! the main cost of a call at moderate rates) per call.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

pub struct Pacer {
    timer: AsyncFd<OwnedFd>,
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
        Ok(Pacer { timer })
    }

    /// Return at `due`, or at once if it has passed.
    pub async fn sleep_until(&self, due: Instant) -> io::Result<()> {
        let Some(wait) = due
            .checked_duration_since(Instant::now())
            .filter(|w| !w.is_zero())
        else {
            return Ok(());
        };
        // Arming replaces any earlier setting and clears expirations not yet
        // read, so an abandoned wait leaves nothing behind.
        self.arm(wait)?;
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
            if read == 8 {
                // Read to empty: without this the next wait would find the
                // readiness still set and spend a read learning otherwise.
                ready.clear_ready();
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::WouldBlock {
                return Err(error);
            }
            // Readiness left over from an earlier wait: not this one's expiry.
            ready.clear_ready();
        }
    }

    fn arm(&self, wait: Duration) -> io::Result<()> {
        let setting = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: wait.as_secs() as libc::time_t,
                tv_nsec: wait.subsec_nanos() as libc::c_long,
            },
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_on_time_and_never_early() {
        let pacer = Pacer::new().expect("a timerfd");
        for wait_us in [300u64, 1500, 4000] {
            let due = Instant::now() + Duration::from_micros(wait_us);
            pacer.sleep_until(due).await.expect("the wait");
            let woke = Instant::now();
            assert!(woke >= due, "woke before its due instant");
            // Far below tokio's millisecond rounding on a quiet machine; a
            // busy one is allowed its scheduling delay.
            assert!(
                woke - due < Duration::from_millis(50),
                "{wait_us} µs: late by {:?}",
                woke - due
            );
        }
    }

    #[tokio::test]
    async fn an_abandoned_wait_leaves_no_early_wake() {
        let pacer = Pacer::new().expect("a timerfd");
        // Armed for 20 ms, abandoned, and left to expire unread.
        let abandoned = tokio::time::timeout(
            Duration::from_millis(2),
            pacer.sleep_until(Instant::now() + Duration::from_millis(20)),
        )
        .await;
        assert!(abandoned.is_err());
        std::thread::sleep(Duration::from_millis(30));
        let due = Instant::now() + Duration::from_millis(5);
        pacer.sleep_until(due).await.expect("the wait");
        assert!(Instant::now() >= due, "the stale expiry woke the new wait");
    }

    #[tokio::test]
    async fn a_past_instant_returns_at_once() {
        let pacer = Pacer::new().expect("a timerfd");
        let past = Instant::now() - Duration::from_millis(5);
        pacer.sleep_until(past).await.expect("no wait");
    }
}
