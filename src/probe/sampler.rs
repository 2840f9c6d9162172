//! Sampling a process tree: RSS, FDs and threads summed over the root and all
//! its descendants (a wrapper such as `npx` or `uv run` is not the server),
//! CPU from the change in consumed ticks between two samples.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::procfs;

/// One sample of the server's tree and of mcpstorm itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProbeSample {
    pub rss_bytes: u64,
    pub fds: u32,
    pub threads: u32,
    pub processes: u32,
    /// Percent of one core, summed over the tree, since the previous sample.
    pub cpu_percent: f64,
    pub self_rss_bytes: u64,
    pub self_cpu_percent: f64,
}

/// CPU is measured over at least this long: the kernel counts CPU time in
/// clock ticks (10 ms), so a shorter window would read as 0 % or 1000 %.
const CPU_WINDOW: Duration = Duration::from_millis(200);

/// CPU ticks seen for each pid at the start of the current CPU window.
struct CpuMemory {
    ticks: HashMap<u32, u64>,
    at: Instant,
    last_percent: f64,
}

impl CpuMemory {
    fn new() -> Self {
        CpuMemory {
            ticks: HashMap::new(),
            at: Instant::now(),
            last_percent: 0.0,
        }
    }

    /// Percent of one core used by `usages` over the last CPU window.
    fn percent(&mut self, usages: impl Iterator<Item = (u32, u64)>) -> f64 {
        let now = Instant::now();
        let wall = now.duration_since(self.at).as_secs_f64();
        if !self.ticks.is_empty() && now.duration_since(self.at) < CPU_WINDOW {
            return self.last_percent;
        }
        let mut used_ticks = 0u64;
        let mut seen = HashMap::with_capacity(self.ticks.len());
        for (pid, ticks) in usages {
            // A process new since the last sample counts from zero ticks: it was
            // born in the interval and everything it consumed was consumed then.
            used_ticks += ticks.saturating_sub(*self.ticks.get(&pid).unwrap_or(&0));
            seen.insert(pid, ticks);
        }
        let first_sample = self.ticks.is_empty();
        self.ticks = seen;
        self.at = now;
        if first_sample || wall <= 0.0 {
            return 0.0;
        }
        self.last_percent =
            used_ticks as f64 / procfs::clock_ticks_per_second() as f64 / wall * 100.0;
        self.last_percent
    }
}

/// How long a discovered tree is trusted before `/proc` is scanned again for
/// new descendants. Between scans, samples read only the known members, which
/// keeps a sample cheap enough to take on every slice of a fast phase.
const TREE_RESCAN: Duration = Duration::from_millis(200);

pub struct TreeSampler {
    root: u32,
    members: Vec<u32>,
    scanned_at: Option<Instant>,
    tree_cpu: CpuMemory,
    self_cpu: CpuMemory,
}

impl TreeSampler {
    pub fn new(root: u32) -> Self {
        let mut sampler = TreeSampler {
            root,
            members: Vec::new(),
            scanned_at: None,
            tree_cpu: CpuMemory::new(),
            self_cpu: CpuMemory::new(),
        };
        // Prime the CPU counters so the first real sample has a baseline.
        let _ = sampler.sample();
        sampler
    }

    /// Sample now. `None` once the root process is gone.
    pub fn sample(&mut self) -> Option<ProbeSample> {
        if !procfs::is_alive(self.root) {
            return None;
        }
        if self.scanned_at.is_none_or(|at| at.elapsed() >= TREE_RESCAN) {
            self.members = procfs::process_tree(self.root);
            self.scanned_at = Some(Instant::now());
        }
        let usages: Vec<procfs::ProcessUsage> = self
            .members
            .iter()
            .filter_map(|&pid| procfs::read_usage(pid))
            .collect();
        if usages.first().is_none_or(|root| root.pid != self.root) {
            return None;
        }
        let me = procfs::read_usage(std::process::id()).unwrap_or_default();
        Some(ProbeSample {
            rss_bytes: usages.iter().map(|u| u.rss_bytes).sum(),
            fds: usages.iter().map(|u| u.fds).sum(),
            threads: usages.iter().map(|u| u.threads).sum(),
            processes: usages.len() as u32,
            cpu_percent: self
                .tree_cpu
                .percent(usages.iter().map(|u| (u.pid, u.cpu_ticks))),
            self_rss_bytes: me.rss_bytes,
            self_cpu_percent: self
                .self_cpu
                .percent(std::iter::once((me.pid, me.cpu_ticks))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_tree_and_sees_a_busy_child() {
        // A shell that starts a busy loop: two processes, one burning a core.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done & wait"])
            .spawn()
            .unwrap();
        let mut sampler = TreeSampler::new(child.id());
        std::thread::sleep(std::time::Duration::from_millis(600));
        let sample = sampler.sample().unwrap();
        let tree = procfs::process_tree(child.id());
        for pid in &tree {
            unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
        }
        let _ = child.wait();
        assert_eq!(sample.processes, 2, "{tree:?}");
        assert!(sample.rss_bytes > 0 && sample.fds > 0 && sample.threads >= 2);
        assert!(sample.cpu_percent > 40.0, "cpu {}", sample.cpu_percent);
        assert!(sample.self_rss_bytes > 0);
    }
}
