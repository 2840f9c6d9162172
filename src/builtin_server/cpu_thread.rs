//! `serve --busy-ms`: the target's one CPU thread, on which each request
//! spends that much CPU time before it is answered, one request after
//! another (a single-threaded server: a Node event loop, a Python
//! interpreter). Its capacity is known in advance, 1000 / MS calls a
//! second, and what limits it is that thread's CPU.

use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

/// A request's CPU work, and where to say it is done.
type Job = (Duration, oneshot::Sender<()>);

pub struct CpuThread {
    jobs: mpsc::Sender<Job>,
}

impl CpuThread {
    /// Start the thread; `None` if the system would not start one.
    pub fn start() -> Option<CpuThread> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("busy-worker".into())
            .spawn(move || {
                // Ends when the server does (the sender is dropped).
                while let Ok((cpu, done)) = queue.recv() {
                    spin(cpu);
                    let _ = done.send(());
                }
            })
            .ok()?;
        Some(CpuThread { jobs })
    }

    /// Spend `cpu` of the thread's CPU time on this request, after the
    /// requests queued before it.
    pub async fn work(&self, cpu: Duration) {
        let (done, finished) = oneshot::channel();
        if self.jobs.send((cpu, done)).is_ok() {
            let _ = finished.await;
        }
    }
}

/// Spin until this thread has used `cpu` more CPU time: CPU time, not wall
/// time, so a busy machine makes the work take longer, as it would a real
/// server's.
fn spin(cpu: Duration) {
    let start = thread_cpu_time();
    while thread_cpu_time().saturating_sub(start) < cpu {
        std::hint::spin_loop();
    }
}

fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec for the call to fill; the clock exists on
    // every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(
        now.tv_sec.max(0) as u64,
        now.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}
