//! How much CPU a process tree wanted over a span of time, thread by thread:
//! each thread's time on a CPU and time spent runnable, waiting for one
//! (`/proc/PID/task/TID/schedstat`), read at the span's start and its end.
//!
//! A thread runnable for all of the span was saturated, however busy the
//! machine: on a loaded machine its time on a CPU falls, but its time
//! wanting one does not. That tells a server whose CPU is its limit (a
//! Node event loop, a Python interpreter, one worker thread) from one that
//! waits on something else. Kernels without schedstat give the CPU time of
//! `/proc/PID/task/TID/stat` alone, in clock ticks, with no waiting time.

use std::collections::HashMap;
use std::fs;
use std::time::Instant;

use serde::Serialize;

use super::procfs;

/// Threads read in one reading, at most: a tree of more is read in part
/// (a hostile server may start any number).
const MAX_THREADS: usize = 4_096;

/// One thread's times so far, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct ThreadTimes {
    on_cpu_ns: u64,
    waiting_ns: u64,
}

/// The times of every thread of a set of processes, at one moment.
#[derive(Debug, Clone)]
pub struct CpuReading {
    at: Instant,
    /// By (pid, tid), with the thread's name.
    threads: HashMap<(u32, u32), (ThreadTimes, String)>,
}

/// What the threads read did between two readings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuDemand {
    /// CPU time used by all the threads, in cores (1.0: one core the whole
    /// span).
    pub cores_used: f64,
    /// The share of the span the busiest thread was runnable (on a CPU or
    /// waiting for one), 0 to 1.
    pub busiest_runnable: f64,
    /// The share of the span the busiest thread spent waiting for a CPU.
    pub busiest_waiting: f64,
    /// That thread's name and process.
    pub busiest_thread: String,
}

impl CpuReading {
    /// The threads of `root`'s process tree.
    pub fn of_tree(root: u32) -> CpuReading {
        Self::of_processes(&procfs::process_tree(root))
    }

    /// The threads of this process (mcpstorm).
    pub fn of_self() -> CpuReading {
        Self::of_processes(&[std::process::id()])
    }

    /// The threads of these processes.
    pub fn of_processes(pids: &[u32]) -> CpuReading {
        let mut threads = HashMap::new();
        'processes: for &pid in pids {
            let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
                continue; // gone since the tree was listed
            };
            for task in tasks.flatten() {
                if threads.len() >= MAX_THREADS {
                    break 'processes;
                }
                let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                if let Some(read) = read_thread(pid, tid) {
                    threads.insert((pid, tid), read);
                }
            }
        }
        CpuReading {
            at: Instant::now(),
            threads,
        }
    }

    /// What the threads did from `earlier` to this reading. A thread new
    /// since then counts from nothing: all of its time falls in the span.
    pub fn since(&self, earlier: &CpuReading) -> CpuDemand {
        let span_ns = self.at.saturating_duration_since(earlier.at).as_nanos() as f64;
        let mut demand = CpuDemand {
            cores_used: 0.0,
            busiest_runnable: 0.0,
            busiest_waiting: 0.0,
            busiest_thread: String::new(),
        };
        if span_ns <= 0.0 {
            return demand;
        }
        let mut busiest_ns = 0;
        let mut on_cpu_ns = 0u64;
        for (&(pid, tid), (now, name)) in &self.threads {
            let before = earlier
                .threads
                .get(&(pid, tid))
                .map(|(times, _)| *times)
                .unwrap_or_default();
            let on_cpu = now.on_cpu_ns.saturating_sub(before.on_cpu_ns);
            let waiting = now.waiting_ns.saturating_sub(before.waiting_ns);
            on_cpu_ns = on_cpu_ns.saturating_add(on_cpu);
            if on_cpu + waiting > busiest_ns {
                busiest_ns = on_cpu + waiting;
                demand.busiest_waiting = (waiting as f64 / span_ns).min(1.0);
                demand.busiest_thread = format!("{name} (pid {pid}, thread {tid})");
            }
        }
        demand.cores_used = on_cpu_ns as f64 / span_ns;
        // Times are read one thread after another, so a thread busy all the
        // span can read a hair over it.
        demand.busiest_runnable = (busiest_ns as f64 / span_ns).min(1.0);
        demand
    }
}

/// A thread's times and name; `None` if it has gone.
fn read_thread(pid: u32, tid: u32) -> Option<(ThreadTimes, String)> {
    let dir = format!("/proc/{pid}/task/{tid}");
    let times = match fs::read_to_string(format!("{dir}/schedstat")) {
        Ok(text) => parse_schedstat(&text)?,
        Err(_) => {
            let stat = procfs::parse_stat(&fs::read_to_string(format!("{dir}/stat")).ok()?)?;
            let ns_per_tick = 1_000_000_000 / procfs::clock_ticks_per_second().max(1);
            ThreadTimes {
                on_cpu_ns: stat.cpu_ticks.saturating_mul(ns_per_tick),
                waiting_ns: 0,
            }
        }
    };
    let name = fs::read_to_string(format!("{dir}/comm")).unwrap_or_default();
    let name: String = name.trim_end().chars().take(64).collect();
    Some((times, name))
}

/// `schedstat`: time on a CPU (ns), time waiting on a run queue (ns), and
/// the number of time slices.
fn parse_schedstat(text: &str) -> Option<ThreadTimes> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    Some(ThreadTimes {
        on_cpu_ns: fields.next()??,
        waiting_ns: fields.next()??,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_schedstat() {
        assert_eq!(
            parse_schedstat("531125095 129897 43\n"),
            Some(ThreadTimes {
                on_cpu_ns: 531_125_095,
                waiting_ns: 129_897
            })
        );
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_schedstat("12 x 3"), None);
    }

    /// A thread that spins is runnable all the span, however busy the
    /// machine (waiting for a CPU counts); one that sleeps is not. The
    /// span is long against a scheduler's time slice, whose wait a reading
    /// may not have counted yet.
    #[test]
    fn a_spinning_thread_is_the_busiest_and_runnable_all_along() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = std::thread::Builder::new()
            .name("spinner".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                }
            })
            .unwrap();
        let before = CpuReading::of_self();
        std::thread::sleep(Duration::from_millis(500));
        let after = CpuReading::of_self();
        stop.store(true, Ordering::Relaxed);
        spinning.join().unwrap();
        let demand = after.since(&before);
        assert!(demand.busiest_thread.starts_with("spinner"), "{demand:?}");
        assert!(demand.busiest_runnable > 0.9, "{demand:?}");
        assert!(demand.cores_used > 0.0, "{demand:?}");
    }
}
