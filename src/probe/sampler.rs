//! Sampling a process tree: RSS, FDs and threads summed over the root and all
//! its descendants (a wrapper such as `npx` or `uv run` is not the server),
//! CPU from the change in consumed ticks between two samples.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{command_line, procfs};

/// One sample of the server's tree and of mcpstorm itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProbeSample {
    pub rss_bytes: u64,
    /// PSS summed over the tree (shared pages counted once in all); `None`
    /// when a member's cannot be read.
    pub pss_bytes: Option<u64>,
    pub fds: u32,
    pub threads: u32,
    pub processes: u32,
    /// Percent of one core, summed over the tree, since the previous sample.
    pub cpu_percent: f64,
    pub self_rss_bytes: u64,
    pub self_cpu_percent: f64,
}

/// One process of the tree, as last sampled.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Member {
    pub pid: u32,
    pub parent: u32,
    pub name: String,
    pub rss_bytes: u64,
    pub pss_bytes: Option<u64>,
    pub fds: u32,
    pub threads: u32,
    pub cpu_percent: f64,
    /// Its command line, secrets redacted (`command_line`); read once per
    /// process and shared, not copied, by each sample.
    pub command: Option<Arc<str>>,
}

/// CPU is measured over at least this long: the kernel counts CPU time in
/// clock ticks (10 ms), so a shorter window would read as 0 % or 1000 %.
const CPU_WINDOW: Duration = Duration::from_millis(200);

/// CPU ticks seen for each pid at the start of the current CPU window, and
/// the percentages of the last complete window.
struct CpuMemory {
    ticks: HashMap<u32, u64>,
    at: Instant,
    percents: HashMap<u32, f64>,
}

impl CpuMemory {
    fn new() -> Self {
        CpuMemory {
            ticks: HashMap::new(),
            at: Instant::now(),
            percents: HashMap::new(),
        }
    }

    /// Percent of one core each pid used over the last CPU window.
    fn update(&mut self, usages: impl Iterator<Item = (u32, u64)>) {
        let now = Instant::now();
        if !self.ticks.is_empty() && now.duration_since(self.at) < CPU_WINDOW {
            return;
        }
        let wall = now.duration_since(self.at).as_secs_f64();
        let per_tick = 100.0 / procfs::clock_ticks_per_second() as f64 / wall.max(1e-9);
        let first_sample = self.ticks.is_empty();
        let mut seen = HashMap::with_capacity(self.ticks.len());
        let mut percents = HashMap::with_capacity(self.ticks.len());
        for (pid, ticks) in usages {
            // A process new since the last sample counts from zero ticks: it was
            // born in the interval and everything it consumed was consumed then.
            let used = ticks.saturating_sub(*self.ticks.get(&pid).unwrap_or(&0));
            percents.insert(
                pid,
                if first_sample {
                    0.0
                } else {
                    used as f64 * per_tick
                },
            );
            seen.insert(pid, ticks);
        }
        self.ticks = seen;
        self.percents = percents;
        self.at = now;
    }

    fn percent(&self, pid: u32) -> f64 {
        self.percents.get(&pid).copied().unwrap_or(0.0)
    }
}

/// How long a discovered tree is trusted before `/proc` is scanned again for
/// new descendants. Between scans, samples read only the known members, which
/// keeps a sample cheap enough to take on every slice of a fast phase.
const TREE_RESCAN: Duration = Duration::from_millis(200);

/// How long a PSS reading stands: reading smaps_rollup walks the process's
/// page tables, dearer than the rest of a sample, and memory figures need
/// no finer grain.
const PSS_WINDOW: Duration = Duration::from_millis(200);

/// The root's process is gone: nothing more to sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gone;

pub struct TreeSampler {
    root: u32,
    /// `--measure-process`: measure the first process of the tree whose
    /// command line contains this (a server under its wrapper), once found.
    focus: Option<String>,
    focused: Option<u32>,
    members: Vec<u32>,
    scanned_at: Option<Instant>,
    /// The last PSS read of each member, and when the readings were taken.
    pss: HashMap<u32, Option<u64>>,
    pss_at: Option<Instant>,
    tree_cpu: CpuMemory,
    self_cpu: CpuMemory,
    /// Each member's command line, read when it is first seen and again
    /// when its name changes (it was seen between fork and exec).
    commands: HashMap<u32, (String, Option<Arc<str>>)>,
    /// What is redacted from command lines: the values mcpstorm was given
    /// as secrets.
    secrets: Arc<[String]>,
}

impl TreeSampler {
    /// A sampler of the subtree of the first process under `root` whose
    /// command line contains `focus` (the whole tree without one).
    pub fn focused(root: u32, focus: Option<String>, secrets: Arc<[String]>) -> Self {
        let mut sampler = TreeSampler {
            root,
            focus,
            focused: None,
            members: Vec::new(),
            scanned_at: None,
            pss: HashMap::new(),
            pss_at: None,
            tree_cpu: CpuMemory::new(),
            self_cpu: CpuMemory::new(),
            commands: HashMap::new(),
            secrets,
        };
        // Prime the CPU counters so the first real sample has a baseline.
        let _ = sampler.sample();
        sampler
    }

    /// The process measured (with its descendants): the root, or the one
    /// `--measure-process` found.
    pub fn measured(&self) -> Option<u32> {
        match self.focus {
            Some(_) => self.focused,
            None => Some(self.root),
        }
    }

    /// [`TreeSampler::sample`] with every figure read now, PSS included: for
    /// the samples growth is measured between (a phase's start, the end).
    /// The tree is scanned again too: a child born since the last scan is
    /// among the members.
    pub fn sample_exact(&mut self) -> Result<Option<(ProbeSample, Vec<Member>)>, Gone> {
        self.pss_at = None;
        self.scanned_at = None;
        self.sample()
    }

    /// Sample now: the totals and each member; `Ok(None)` while the process
    /// `--measure-process` names has not appeared yet.
    pub fn sample(&mut self) -> Result<Option<(ProbeSample, Vec<Member>)>, Gone> {
        if !procfs::is_alive(self.root) {
            return Err(Gone);
        }
        if self.scanned_at.is_none_or(|at| at.elapsed() >= TREE_RESCAN) {
            self.members = procfs::process_tree(self.root);
            self.scanned_at = Some(Instant::now());
            if let (Some(focus), None) = (&self.focus, self.focused) {
                self.focused = self
                    .members
                    .iter()
                    .copied()
                    .find(|&pid| procfs::cmdline_contains(pid, focus));
            }
            if let Some(focused) = self.focused {
                self.members = procfs::process_tree(focused);
            }
        }
        let Some(top) = self.measured() else {
            return Ok(None);
        };
        let usages: Vec<procfs::ProcessUsage> = self
            .members
            .iter()
            .filter_map(|&pid| procfs::read_usage(pid))
            .collect();
        if usages.first().is_none_or(|first| first.pid != top) {
            return Err(Gone);
        }
        if self.pss_at.is_none_or(|at| at.elapsed() >= PSS_WINDOW) {
            self.pss = usages
                .iter()
                .map(|u| (u.pid, procfs::read_pss_bytes(u.pid)))
                .collect();
            self.pss_at = Some(Instant::now());
        }
        // Command lines of members gone are forgotten; new ones read, and
        // those of members that exec'd since (their name changed) or had
        // none yet (just after an exec, the new program's arguments are not
        // in place for a moment).
        let alive: std::collections::HashSet<u32> = usages.iter().map(|u| u.pid).collect();
        self.commands.retain(|pid, _| alive.contains(pid));
        for u in &usages {
            if self
                .commands
                .get(&u.pid)
                .is_none_or(|(name, command)| *name != u.name || command.is_none())
            {
                let command = command_line::read(u.pid, &self.secrets).map(Arc::from);
                self.commands.insert(u.pid, (u.name.clone(), command));
            }
        }
        let me = procfs::read_usage(std::process::id()).unwrap_or_default();
        self.tree_cpu
            .update(usages.iter().map(|u| (u.pid, u.cpu_ticks)));
        self.self_cpu
            .update(std::iter::once((me.pid, me.cpu_ticks)));
        let members: Vec<Member> = usages
            .iter()
            .map(|u| Member {
                pid: u.pid,
                parent: u.ppid,
                name: u.name.clone(),
                rss_bytes: u.rss_bytes,
                // A member new since the last reading is read now.
                pss_bytes: match self.pss.get(&u.pid) {
                    Some(pss) => *pss,
                    None => procfs::read_pss_bytes(u.pid),
                },
                fds: u.fds,
                threads: u.threads,
                cpu_percent: self.tree_cpu.percent(u.pid),
                command: self.commands.get(&u.pid).and_then(|(_, c)| c.clone()),
            })
            .collect();
        let totals = ProbeSample {
            rss_bytes: members.iter().map(|m| m.rss_bytes).sum(),
            pss_bytes: members.iter().map(|m| m.pss_bytes).sum(),
            fds: members.iter().map(|m| m.fds).sum(),
            threads: members.iter().map(|m| m.threads).sum(),
            processes: members.len() as u32,
            cpu_percent: members.iter().map(|m| m.cpu_percent).sum(),
            self_rss_bytes: me.rss_bytes,
            self_cpu_percent: self.self_cpu.percent(me.pid),
        };
        Ok(Some((totals, members)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kills a process tree when dropped, so a failing test leaves no busy
    /// loop behind (it would also hold the test's output pipe open).
    struct KillTree(std::process::Child);

    impl Drop for KillTree {
        fn drop(&mut self) {
            for pid in procfs::process_tree(self.0.id()).iter().rev() {
                // SAFETY: kill takes no pointers.
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            }
            let _ = self.0.wait();
        }
    }

    #[test]
    fn sums_the_tree_and_sees_a_busy_child() {
        // A shell that starts a busy loop: two processes, one burning CPU.
        // On a busy machine the loop may get a small share of a core, so the
        // test asserts CPU *time*: the sampler's percentage, turned back into
        // ticks over the window, must match the ticks /proc counted, whatever
        // share of wall time the loop was given.
        let child = KillTree(
            std::process::Command::new("sh")
                .args(["-c", "while :; do :; done & wait"])
                .spawn()
                .unwrap(),
        );
        let shell = child.0.id();
        let deadline = Instant::now() + Duration::from_secs(60);
        let busy = loop {
            let tree = procfs::process_tree(shell);
            if let Some(&pid) = tree.get(1) {
                break pid;
            }
            assert!(Instant::now() < deadline, "the busy loop never started");
            std::thread::sleep(Duration::from_millis(10));
        };
        let ticks = || procfs::read_stat(busy).map_or(0, |stat| stat.cpu_ticks);
        let (wall_start, ticks_start) = (Instant::now(), ticks());
        let mut sampler = TreeSampler::focused(shell, None, Arc::from(Vec::new()));
        let (primed_at, ticks_primed) = (Instant::now(), ticks());
        // At least 20 ticks (200 ms of CPU) and one CPU window, however long
        // the machine takes to give them.
        while ticks() < ticks_primed + 20 || primed_at.elapsed() < CPU_WINDOW {
            assert!(Instant::now() < deadline, "the busy loop got no CPU");
            std::thread::sleep(Duration::from_millis(20));
        }
        let (sampled_from, ticks_before) = (Instant::now(), ticks());
        let (sample, members) = sampler.sample().unwrap().unwrap();
        let (wall_end, ticks_end) = (Instant::now(), ticks());
        drop(child);
        assert_eq!(sample.processes, 2, "{members:?}");
        assert!(sample.rss_bytes > 0 && sample.fds > 0 && sample.threads >= 2);
        assert!(sample.self_rss_bytes > 0);
        // Each member on its own: the shell and the busy loop.
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].pid, shell);
        assert_eq!((members[1].pid, members[1].parent), (busy, shell));
        // The sampler read the loop's ticks inside [wall_start, primed_at] and
        // [sampled_from, wall_end]: the ticks it implies lie within what /proc
        // counted over the widest and the narrowest window.
        let hz = procfs::clock_ticks_per_second() as f64;
        let implied = |wall: Duration| members[1].cpu_percent / 100.0 * hz * wall.as_secs_f64();
        let widest = implied(wall_end - wall_start);
        let narrowest = implied(sampled_from - primed_at);
        assert!(
            widest >= (ticks_before - ticks_primed) as f64 - 0.5,
            "{members:?}: {widest:.1} ticks implied, /proc counted at least {}",
            ticks_before - ticks_primed
        );
        assert!(
            narrowest <= (ticks_end - ticks_start) as f64 + 0.5,
            "{members:?}: {narrowest:.1} ticks implied, /proc counted at most {}",
            ticks_end - ticks_start
        );
        // The tree's figure is the sum of its members'.
        let summed: f64 = members.iter().map(|m| m.cpu_percent).sum();
        assert!((sample.cpu_percent - summed).abs() < 1e-9);
    }

    /// A shell that waits for a line on its stdin before going on, so a
    /// test decides when the tree changes.
    fn held_shell(script: &str) -> (KillTree, std::process::ChildStdin) {
        let mut child = std::process::Command::new("sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        (KillTree(child), stdin)
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "{what} never happened");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn an_exact_sample_sees_a_child_born_since_the_last_scan() {
        // The report's members are the last (exact) sample's: a child the
        // tree gained just before the end is among them, however recent
        // the last rescan.
        let (child, mut stdin) = held_shell("read go; sleep 30 & wait");
        let shell = child.0.id();
        let mut sampler = TreeSampler::focused(shell, None, Arc::from(Vec::new()));
        use std::io::Write;
        writeln!(stdin, "go").unwrap();
        wait_for("the fork", || procfs::process_tree(shell).len() == 2);
        let (sample, members) = sampler.sample_exact().unwrap().unwrap();
        assert_eq!(sample.processes, 2, "{members:?}");
    }

    #[test]
    fn a_command_line_is_read_again_once_the_process_execs() {
        // Between fork and exec a child shows its parent's command line; the
        // one shown is the program's, once it has become that program.
        let (child, mut stdin) = held_shell("read go; exec sleep 30");
        let shell = child.0.id();
        // Spawned, the shell's arguments may not be in place for a moment.
        wait_for("the shell's arguments", || {
            command_line::read(shell, &[]).is_some_and(|c| c.starts_with("sh -c"))
        });
        let mut sampler = TreeSampler::focused(shell, None, Arc::from(Vec::new()));
        let command = |sampler: &mut TreeSampler| {
            let (_, members) = sampler.sample().unwrap().unwrap();
            members[0].command.as_deref().unwrap_or("").to_string()
        };
        assert!(command(&mut sampler).starts_with("sh -c"));
        use std::io::Write;
        writeln!(stdin, "go").unwrap();
        wait_for("the exec", || {
            procfs::read_usage(shell).is_some_and(|u| u.name == "sleep")
                && command_line::read(shell, &[]).is_some_and(|c| c == "sleep 30")
        });
        assert_eq!(command(&mut sampler), "sleep 30");
    }
}
