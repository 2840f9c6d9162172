//! The target's fault knobs and the state they act on.
//!
//! Every knob applies to each request after `initialize` (tool calls, lists,
//! reads, ping), counted in arrival order, except the failure rate, which only
//! tool calls can show (as `isError: true`).

use std::fs::File;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;

use super::cpu_thread::CpuThread;
use super::era::Eras;
use super::memory::{Arena, ResidentBlock};
use crate::pacer::SharedTimer;

#[derive(Debug, Clone, Default, Args)]
pub struct FaultKnobs {
    /// Protocol eras served: both (initialize and server/discover), handshake
    /// only (a legacy server) or stateless only (2026-07-28).
    #[arg(long, value_enum, default_value_t = Eras::Both)]
    pub era: Eras,
    /// Base latency added to every request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    pub latency_ms: f64,
    /// Serve at most N requests at once; the others wait their turn (a server
    /// with a pool of N workers): with --latency-ms, it holds at most
    /// N × 1000 / MS calls a second, a capacity known in advance.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub workers: Option<u32>,
    /// CPU time every request costs, in milliseconds, spent on the server's
    /// one CPU thread, a request at a time (a single-threaded server): it
    /// holds at most 1000 / MS calls a second, and its CPU is the limit.
    #[arg(long, value_name = "MS", default_value_t = 0.0, value_parser = busy_ms)]
    pub busy_ms: f64,
    /// Extra random latency, uniform in [0, MS], added on top of --latency-ms.
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    pub jitter_ms: f64,
    /// Keep this many KB resident for good on every request (a memory leak).
    #[arg(long, value_name = "KB", default_value_t = 0)]
    pub leak_kb: u64,
    /// Keep this many KB resident for good on every call of one tool:
    /// `TOOL:KB`, repeatable (a leak only that tool has).
    #[arg(long, value_name = "TOOL:KB", value_parser = tool_leak)]
    pub leak_kb_tool: Vec<(String, u64)>,
    /// Open this many file descriptors on every call of one tool and never
    /// close them: `TOOL:N`, repeatable.
    #[arg(long, value_name = "TOOL:N", value_parser = tool_leak)]
    pub leak_fds_tool: Vec<(String, u64)>,
    /// With --leak-kb or --leak-kb-tool: stop keeping memory once this many
    /// MB are kept, as a cache or a heap growing to its working size does
    /// (growth that stops is not a leak).
    #[arg(long, value_name = "MB")]
    pub leak_up_to_mb: Option<u64>,
    /// Open this many file descriptors on every request and never close them.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub leak_fds: u32,
    /// Fraction of tool calls that return `isError: true`, spread evenly
    /// (0.05 fails exactly every 20th tool call).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    pub fail_rate: f64,
    /// After this many requests, latency starts to grow (see --slowdown-ms).
    #[arg(long, value_name = "N")]
    pub slowdown_after: Option<u64>,
    /// With --slowdown-after: extra latency added per request beyond N, in ms.
    #[arg(long, value_name = "MS", default_value_t = 0.1)]
    pub slowdown_ms: f64,
    /// Answer this many requests, then exit abruptly (exit code 70) on the next.
    #[arg(long, value_name = "N")]
    pub crash_after: Option<u64>,
    /// Garbage-collection sawtooth: garbage accumulates up to this many MB and
    /// is then released at once. Memory rises and falls; nothing leaks.
    #[arg(long, value_name = "MB", default_value_t = 0)]
    pub sawtooth_mb: u64,
    /// With --sawtooth-mb: garbage added per request, in KB.
    #[arg(long, value_name = "KB", default_value_t = 256)]
    pub sawtooth_kb_per_call: u64,
    /// Send a `notifications/message` log notification every N requests.
    #[arg(long, value_name = "N")]
    pub log_every: Option<u64>,
    /// Every Nth `echo` answers with the previous echo's message (a mix-up, as
    /// a server with a data race would).
    #[arg(long, value_name = "N")]
    pub mixup_every: Option<u64>,
    /// Answer every Nth request twice (a duplicate id).
    #[arg(long, value_name = "N")]
    pub duplicate_every: Option<u64>,
    /// After every Nth request, also send a response for an id never issued.
    #[arg(long, value_name = "N")]
    pub stray_every: Option<u64>,
    /// Every Nth request, also write a line of log text (not JSON) to stdout.
    #[arg(long, value_name = "N")]
    pub garbage_every: Option<u64>,
    /// On the Nth request, also write one line of --huge-line-mb MB to stdout.
    #[arg(long, value_name = "N")]
    pub huge_line_at: Option<u64>,
    /// The size of the --huge-line-at line, in MB.
    #[arg(long, value_name = "MB", default_value_t = 64)]
    pub huge_line_mb: u64,
    /// On the Nth request line, stop reading stdin for --stall-ms: every request
    /// sent meanwhile waits (a stall, e.g. a long garbage-collection pause).
    #[arg(long, value_name = "N")]
    pub stall_at: Option<u64>,
    /// With --stall-at: how long the stall lasts, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub stall_ms: u64,
    /// Write this many KB of text to stderr on every request.
    #[arg(long, value_name = "KB", default_value_t = 0)]
    pub stderr_kb: u64,
    /// Handle bad input as a careless server does: accept any `jsonrpc`
    /// version, answer an unknown method with an empty result, fail on
    /// params of the wrong type with an internal error (-32603), and crash
    /// on a request over 1 MiB. The robustness scenario must fail it.
    #[arg(long)]
    pub fragile: bool,
}

const MIB: u64 = 1024 * 1024;

/// `--fragile`: the largest request handled before the server gives up.
const FRAGILE_REQUEST_BYTES: usize = 1024 * 1024;

/// What the knobs decided for one request.
#[derive(Debug, PartialEq)]
pub struct RequestFaults {
    /// 1-based arrival number of this request.
    pub number: u64,
    pub delay: Duration,
    pub fail_tool: bool,
    pub crash: bool,
    pub log: bool,
    pub duplicate: bool,
    pub stray: bool,
    pub garbage: bool,
    pub huge_line: bool,
}

/// The amount a per-tool knob gives the tool called (summed over its entries).
fn per_tool(knob: &[(String, u64)], tool: Option<&str>) -> u64 {
    knob.iter()
        .filter(|(name, _)| Some(name.as_str()) == tool)
        .map(|(_, amount)| amount)
        .sum()
}

/// `--leak-kb-tool TOOL:KB`, `--leak-fds-tool TOOL:N`.
fn tool_leak(text: &str) -> Result<(String, u64), String> {
    let (tool, kb) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("expected TOOL:KB, got {text:?}"))?;
    let kb = kb
        .parse::<u64>()
        .ok()
        .filter(|kb| (1..=1024 * 1024).contains(kb))
        .ok_or_else(|| {
            format!("the amount must be a whole number from 1 to 1048576, got {kb:?}")
        })?;
    if tool.is_empty() {
        return Err(format!("expected TOOL:KB, got {text:?}"));
    }
    Ok((tool.to_string(), kb))
}

fn busy_ms(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|ms| (0.0..=60_000.0).contains(ms))
        .ok_or_else(|| format!("expected milliseconds from 0 to 60000, got {text:?}"))
}

fn knobs_pool(knobs: &FaultKnobs) -> Option<tokio::sync::Semaphore> {
    knobs
        .workers
        .map(|n| tokio::sync::Semaphore::new(n as usize))
}

pub struct FaultState {
    knobs: FaultKnobs,
    requests: AtomicU64,
    tool_calls: AtomicU64,
    echoes: AtomicU64,
    last_echo: Mutex<String>,
    leaked: Mutex<Arena>,
    leaked_fds: Mutex<Vec<File>>,
    garbage: Mutex<Vec<ResidentBlock>>,
    /// Memory the `alloc` tool was asked to keep.
    pub kept: Mutex<Arena>,
    /// The handshake era's `initialize` was answered.
    pub initialized: std::sync::atomic::AtomicBool,
    /// `--workers`: the pool a request waits for.
    pool: Option<tokio::sync::Semaphore>,
    /// The precise timer `--latency-ms` sleeps on, started at the first.
    timer: std::sync::OnceLock<Option<SharedTimer>>,
    /// `--busy-ms`: the thread requests spend their CPU on, started at the
    /// first.
    cpu_thread: std::sync::OnceLock<Option<CpuThread>>,
}

impl FaultState {
    pub fn new(knobs: FaultKnobs) -> Self {
        FaultState {
            requests: AtomicU64::new(0),
            tool_calls: AtomicU64::new(0),
            echoes: AtomicU64::new(0),
            last_echo: Mutex::new(String::new()),
            leaked: Mutex::new(Arena::default()),
            leaked_fds: Mutex::new(Vec::new()),
            garbage: Mutex::new(Vec::new()),
            kept: Mutex::new(Arena::default()),
            initialized: Default::default(),
            pool: knobs_pool(&knobs),
            timer: std::sync::OnceLock::new(),
            cpu_thread: std::sync::OnceLock::new(),
            knobs,
        }
    }

    /// Sleep `delay` on the microsecond timer (tokio's, rounding up to the
    /// next millisecond, if the kernel gives none).
    pub async fn sleep(&self, delay: Duration) {
        match self.timer.get_or_init(SharedTimer::start) {
            Some(timer) => timer.sleep(delay).await,
            None => tokio::time::sleep(delay).await,
        }
    }

    /// Spend `--busy-ms` of CPU on the server's CPU thread (at once
    /// without the knob, or if the thread could not be started).
    pub async fn busy(&self) {
        if self.knobs.busy_ms <= 0.0 {
            return;
        }
        if let Some(thread) = self.cpu_thread.get_or_init(CpuThread::start) {
            thread
                .work(Duration::from_secs_f64(self.knobs.busy_ms / 1000.0))
                .await;
        }
    }

    /// Wait for one of the `--workers` (at once without the knob); the
    /// request is served while the permit is held.
    pub async fn worker(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        match &self.pool {
            Some(pool) => pool.acquire().await.ok(),
            None => None,
        }
    }

    /// The stall to make after reading request line `line` (1-based), if any.
    pub fn stall_after_line(&self, line: u64) -> Option<Duration> {
        (self.knobs.stall_at == Some(line)).then(|| Duration::from_millis(self.knobs.stall_ms))
    }

    pub fn huge_line_bytes(&self) -> usize {
        (self.knobs.huge_line_mb * 1024 * 1024) as usize
    }

    pub fn stderr_bytes(&self) -> usize {
        (self.knobs.stderr_kb * 1024) as usize
    }

    pub fn fragile(&self) -> bool {
        self.knobs.fragile
    }

    /// `--fragile`: a request this large crashes the server.
    pub fn crashes_on(&self, request_bytes: usize) -> bool {
        self.knobs.fragile && request_bytes > FRAGILE_REQUEST_BYTES
    }

    pub fn eras(&self) -> Eras {
        self.knobs.era
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Apply the knobs for one arriving request: memory and FDs are taken here,
    /// at once, so their effect is visible before the response is.
    /// `tool`: the tool a `tools/call` names.
    pub fn on_request(&self, tool: Option<&str>) -> RequestFaults {
        let is_tool_call = tool.is_some();
        let number = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let knobs = &self.knobs;
        let crash = knobs.crash_after.is_some_and(|n| number > n);
        let leak_kb = knobs.leak_kb + per_tool(&knobs.leak_kb_tool, tool);
        if leak_kb > 0
            && let Ok(mut leaked) = self.leaked.lock()
        {
            let room = knobs.leak_up_to_mb.map_or(usize::MAX, |mb| {
                (mb.saturating_mul(MIB) as usize).saturating_sub(leaked.kept())
            });
            leaked.keep(((leak_kb * 1024) as usize).min(room));
        }
        let leak_fds = u64::from(knobs.leak_fds) + per_tool(&knobs.leak_fds_tool, tool);
        if leak_fds > 0
            && let Ok(mut fds) = self.leaked_fds.lock()
        {
            fds.extend((0..leak_fds).filter_map(|_| File::open("/dev/null").ok()));
        }
        if knobs.sawtooth_mb > 0 {
            self.add_garbage();
        }
        let fail_tool = is_tool_call && {
            let n = self.tool_calls.fetch_add(1, Ordering::Relaxed) + 1;
            evenly_spread(n, knobs.fail_rate)
        };
        let mut delay_ms = knobs.latency_ms;
        if knobs.jitter_ms > 0.0 {
            delay_ms += fastrand::f64() * knobs.jitter_ms;
        }
        if let Some(after) = knobs.slowdown_after
            && number > after
        {
            delay_ms += (number - after) as f64 * knobs.slowdown_ms;
        }
        RequestFaults {
            number,
            delay: Duration::from_secs_f64(delay_ms.max(0.0) / 1000.0),
            fail_tool,
            crash,
            log: every(knobs.log_every, number),
            duplicate: every(knobs.duplicate_every, number),
            stray: every(knobs.stray_every, number),
            garbage: every(knobs.garbage_every, number),
            huge_line: knobs.huge_line_at == Some(number),
        }
    }

    /// What `echo` answers: its message, or with --mixup-every the one before.
    pub fn echo(&self, message: &str) -> String {
        let n = self.echoes.fetch_add(1, Ordering::Relaxed) + 1;
        let Ok(mut last) = self.last_echo.lock() else {
            return message.to_string();
        };
        let previous = std::mem::replace(&mut *last, message.to_string());
        if every(self.knobs.mixup_every, n) && !previous.is_empty() {
            previous
        } else {
            message.to_string()
        }
    }

    fn add_garbage(&self) {
        let Ok(mut garbage) = self.garbage.lock() else {
            return;
        };
        let held: usize = garbage.iter().map(ResidentBlock::len).sum();
        if held >= (self.knobs.sawtooth_mb * 1024 * 1024) as usize {
            // The "collection": everything is released and RSS falls back.
            garbage.clear();
        }
        if let Some(block) = ResidentBlock::new((self.knobs.sawtooth_kb_per_call * 1024) as usize) {
            garbage.push(block);
        }
    }
}

/// True for every `n`-th event (1-based); never without `n`.
fn every(n: Option<u64>, number: u64) -> bool {
    n.is_some_and(|n| n > 0 && number.is_multiple_of(n))
}

/// True for the n-th event (1-based) when failures at `rate` are spread evenly:
/// exactly ⌊n·rate⌋ of the first n events fail.
fn evenly_spread(n: u64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    (n as f64 * rate).floor() > ((n - 1) as f64 * rate).floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_exactly_the_rate() {
        let failed = (1..=1000).filter(|&n| evenly_spread(n, 0.05)).count();
        assert_eq!(failed, 50);
        assert!(!evenly_spread(1, 0.0));
        assert!((1..=10).all(|n| evenly_spread(n, 1.0)));
    }

    #[test]
    fn knobs_decide_delay_crash_and_logs() {
        let state = FaultState::new(FaultKnobs {
            latency_ms: 2.0,
            slowdown_after: Some(2),
            slowdown_ms: 1.0,
            crash_after: Some(3),
            log_every: Some(2),
            ..FaultKnobs::default()
        });
        let delays: Vec<_> = (0..4).map(|_| state.on_request(None)).collect();
        assert_eq!(delays[0].delay, Duration::from_millis(2));
        assert_eq!(delays[2].delay, Duration::from_millis(3));
        assert_eq!(delays[3].delay, Duration::from_millis(4));
        assert!(!delays[2].crash && delays[3].crash);
        assert!(delays[1].log && !delays[2].log);
    }
}
