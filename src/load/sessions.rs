//! `kind = "sessions"`: concurrency as the users see it. Each simulated
//! agent is a session of its own — its own HTTP client, connections and,
//! in the handshake era, session id — opened at `arrival_rate` a second for
//! `duration_s`, making calls one after another with `think_ms` between
//! them (`calls_each` of them, or until the arrivals end), then closed. The
//! sessions open grow as they arrive, so the phase finds how many the
//! server holds at once, not only how many calls it answers.
//!
//! Every `window_s` the calls (openings included) that ended in the window
//! are judged against the objective — success at least `success_rate`, p99
//! within `p99_ms` when given —, and the window's cost read as a capacity
//! step's is (`step_cost`). The first window that breaks the objective ends
//! the arrivals: the result is the most sessions open at the end of a
//! window that met it, the number open when it broke and what broke first
//! (`server_cpu` when a server thread was saturated). mcpstorm's own CPU
//! saturated ends the phase too, said as its limit.
//!
//! The sessions counted open are the users' and the run's own (its
//! preflight's, open through the phase): a server that holds 20 holds the
//! run's and 19 users'. Over stdio a session is a server process of its
//! own, so there is no one server whose sessions to count: the kind needs
//! a server over HTTP.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::objective::{Objective, P99_MS, SUCCESS};
use super::session_open::{LABEL, open_session, refusal, report_open};
use super::step_cost::{CostMeter, generator_cpu_limit, server_cpu_limit};
use super::{LoadModel, ModelKind, Segment};
use crate::client::Session;
use crate::engine::RunOptions;
use crate::engine::control::ActiveClock;
use crate::engine::crash::LiveSession;
use crate::engine::monitor::Monitor;
use crate::engine::{CancelToken, EngineError, MeasuredProcess, PhaseContext, PhaseRunner};
use crate::protocol::Outcome;
use crate::scenario::file::ScenarioError;
use crate::scenario::load_keys::LoadKeys;
use crate::stats::{Event, LatencyHistogram, SessionsResult, SessionsWindow};

pub const MODEL: ModelKind = ModelKind {
    kind: "sessions",
    keys: &[
        "arrival_rate",
        "duration_s",
        "think_ms",
        "calls_each",
        "max_sessions",
        "window_s",
        "p99_ms",
        "success_rate",
    ],
    parse,
};

const ARRIVAL_RATE: RangeInclusive<f64> = 0.01..=10_000.0;
/// An hour of arrivals at most: its windows are kept whole in the report.
const DURATION_S: RangeInclusive<f64> = 0.1..=3_600.0;
const THINK_MS: RangeInclusive<f64> = 0.0..=3_600_000.0;
const CALLS_EACH: RangeInclusive<u64> = 1..=1_000_000;
const MAX_SESSIONS: RangeInclusive<u64> = 2..=100_000;
const WINDOW_S: RangeInclusive<f64> = 1.0..=60.0;
/// Windows kept for the report, at most: sessions with many calls each can
/// outlast the arrivals' hour; later windows are judged, not kept.
const MOST_WINDOWS_KEPT: usize = 4_000;
/// File descriptors a user's session holds in mcpstorm: its connection, and
/// room for another while it reconnects.
const FDS_PER_SESSION: u64 = 2;
/// Descriptors kept for everything else mcpstorm opens meanwhile.
const FDS_KEPT: u64 = 32;

/// How many more sessions mcpstorm's own limit on open files leaves room
/// for, beside what it has open now; `None` if either is unknown.
fn fd_room() -> Option<u64> {
    let limit = crate::transport::fd_limit::own()?;
    let open = u64::from(crate::probe::procfs::count_fds(std::process::id())?);
    Some(limit.saturating_sub(open + FDS_KEPT) / FDS_PER_SESSION)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sessions {
    pub arrival_rate: f64,
    pub duration_s: f64,
    pub think_ms: f64,
    pub calls_each: Option<u64>,
    /// Sessions open at once, at most, the run's own counted: an arrival
    /// beyond waits for a user to end.
    pub max_sessions: u64,
    pub window_s: f64,
    pub p99_ms: Option<f64>,
    pub success_rate: f64,
}

fn parse(keys: &LoadKeys) -> Result<Arc<dyn LoadModel>, ScenarioError> {
    Ok(Arc::new(Sessions {
        arrival_rate: keys
            .number("arrival_rate", ARRIVAL_RATE)?
            .ok_or_else(|| keys.missing("arrival_rate", "sessions opened a second"))?,
        duration_s: keys
            .number("duration_s", DURATION_S)?
            .ok_or_else(|| keys.missing("duration_s", "how long sessions keep arriving"))?,
        think_ms: keys.number("think_ms", THINK_MS)?.unwrap_or(1000.0),
        calls_each: keys.whole("calls_each", CALLS_EACH)?,
        max_sessions: keys.whole("max_sessions", MAX_SESSIONS)?.unwrap_or(10_000),
        window_s: keys.number("window_s", WINDOW_S)?.unwrap_or(1.0),
        p99_ms: keys.number("p99_ms", P99_MS)?,
        success_rate: keys.number("success_rate", SUCCESS)?.unwrap_or(0.999),
    }))
}

impl Sessions {
    fn objective_words(&self) -> String {
        let latency = self
            .p99_ms
            .map_or_else(String::new, |ms| format!("p99 ≤ {ms} ms, "));
        format!("{latency}success ≥ {} %", self.success_rate * 100.0)
    }
}

impl fmt::Display for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let each = match self.calls_each {
            Some(n) => format!("{n} calls each"),
            None => "calls until the arrivals end".to_string(),
        };
        write!(
            f,
            "sessions opened at {}/s for {} s, {each}, {} ms apart: {}",
            self.arrival_rate,
            self.duration_s,
            self.think_ms,
            self.objective_words()
        )
    }
}

impl LoadModel for Sessions {
    fn segment(&self, _segment: Segment) -> Result<Arc<dyn LoadModel>, String> {
        Err("sessions as users judge each window on every user's calls: split, each segment would judge its own users alone".into())
    }

    fn follows_the_dial(&self) -> bool {
        false
    }

    fn planned_calls(&self) -> Option<u64> {
        None
    }

    fn own_label(&self) -> Option<&'static str> {
        Some(LABEL)
    }

    fn with_objective(&self, objective: &Objective) -> Option<Arc<dyn LoadModel>> {
        Some(Arc::new(Sessions {
            p99_ms: objective.p99_ms.or(self.p99_ms),
            success_rate: objective.success_rate.unwrap_or(self.success_rate),
            ..*self
        }))
    }

    fn run<'a>(&'a self, phase: PhaseContext<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        let model = *self;
        let server = phase.monitor.map(Monitor::measured_process);
        let label = phase.label(LABEL);
        async move {
            let runner = phase.runner()?;
            let main = runner.live.current();
            if main.connection().sibling().is_none() {
                return Err(EngineError::SessionsNeedHttp);
            }
            let users = Users {
                model,
                runner,
                main,
                options: phase.options.clone(),
                label,
                // The run's own session is open beside the users'.
                open_now: AtomicU64::new(1),
                opened: AtomicU64::new(0),
                open_failed: AtomicU64::new(0),
                sessions_end: CancelToken::default(),
                own_limit: std::sync::Mutex::new(None),
            };
            let _ = tokio::spawn(users.run(server)).await;
            Ok(())
        }
        .boxed()
    }
}

/// What one call (or opening) came to, for the window it ended in: its
/// outcome, latency and whether it was an opening.
type Ended = (Outcome, u64, bool);

/// How many ended calls may wait for the judge.
const ENDED_QUEUE: usize = 65_536;

struct Users {
    model: Sessions,
    runner: PhaseRunner,
    main: Arc<Session>,
    options: RunOptions,
    label: usize,
    open_now: AtomicU64,
    /// Sessions opened so far, and openings that failed.
    opened: AtomicU64,
    open_failed: AtomicU64,
    /// Ends every session: the arrivals are over, or the objective broke.
    sessions_end: CancelToken,
    /// What of mcpstorm's own stopped the arrivals (its file limit), and
    /// the sessions open then.
    own_limit: std::sync::Mutex<Option<(u64, String)>>,
}

impl Users {
    async fn run(self, server: Option<MeasuredProcess>) {
        let users = Arc::new(self);
        // Bounded: were the judge ever behind, users wait for it rather
        // than queue without end.
        let (ended, results) = mpsc::channel::<Ended>(ENDED_QUEUE);
        let judge = tokio::spawn(judge(users.clone(), server, results));
        let mut sessions = tokio::task::JoinSet::new();
        let every = Duration::from_secs_f64(1.0 / users.model.arrival_rate);
        let length = Duration::from_secs_f64(users.model.duration_s);
        let clock = ActiveClock::start(&users.runner.control);
        let mut due = Duration::ZERO;
        // Users beyond mcpstorm's own file limit would fail to open for no
        // fault of the server's: there the arrivals end, said as its limit.
        let fd_cap = fd_room().map_or(u64::MAX, |room| room.saturating_add(1));
        let cap = users.model.max_sessions.min(fd_cap);
        'arrivals: while due <= length {
            let runner = &users.runner;
            // A pause holds the arrivals; the schedule runs on active time.
            runner.control.wait_unpaused().await;
            let wait = due.saturating_sub(clock.elapsed(&runner.control));
            tokio::select! {
                biased;
                _ = runner.halt.wait() => break,
                _ = users.sessions_end.wait() => break,
                _ = tokio::time::sleep(wait) => {}
            }
            if clock.elapsed(&runner.control) < due {
                continue; // paused meanwhile: wait out the rest
            }
            // At the cap (users opening or open, and the run's own session),
            // an arrival waits for a user to end: a server that never
            // answers an opening cannot make mcpstorm hold more.
            while sessions.try_join_next().is_some() {}
            if sessions.len() as u64 + 1 >= cap && cap == fd_cap {
                if let Ok(mut limit) = users.own_limit.lock() {
                    let why = format!(
                        "its limit on open files ({}) holds no more sessions",
                        crate::transport::fd_limit::own().unwrap_or(0)
                    );
                    *limit = Some((users.open_now.load(Ordering::Relaxed), why));
                }
                users.sessions_end.set();
                break;
            }
            while sessions.len() as u64 + 1 >= cap {
                let arrivals_left = length.saturating_sub(clock.elapsed(&runner.control));
                tokio::select! {
                    biased;
                    _ = runner.halt.wait() => break 'arrivals,
                    _ = users.sessions_end.wait() => break 'arrivals,
                    // A pause moves the arrivals' end: looked at again.
                    _ = tokio::time::sleep(arrivals_left) => {
                        if clock.elapsed(&runner.control) >= length {
                            break 'arrivals;
                        }
                    }
                    _ = sessions.join_next() => {}
                }
            }
            let (user, ended) = (users.clone(), ended.clone());
            sessions.spawn(async move { user.session(ended).await });
            due += every;
        }
        // Sessions without a count of calls end with the arrivals; those
        // with one make their calls.
        if users.model.calls_each.is_none() || users.runner.halt.is_set() {
            users.sessions_end.set();
        }
        while sessions.join_next().await.is_some() {}
        drop(ended);
        let _ = judge.await;
    }

    /// One user: open a session, call with think time between, close it.
    async fn session(&self, ended: mpsc::Sender<Ended>) {
        let runner = &self.runner;
        let started = Instant::now();
        let opening = open_session(&self.main, &self.options);
        let Some(opened_or_not) = runner.interrupt.unless(opening).await else {
            return;
        };
        let failure = match opened_or_not {
            Ok(Ok(session)) => Ok(Arc::new(session)),
            Ok(Err(refused)) => Err(refusal(&refused)),
            Err(unreachable) => Err((Outcome::TransportError, unreachable.to_string())),
        };
        let session = match failure {
            Ok(session) => session,
            Err(failure) => {
                self.open_failed.fetch_add(1, Ordering::Relaxed);
                let (outcome, latency_us) = report_open(runner, self.label, started, Some(failure));
                let _ = ended.send((outcome, latency_us, true)).await;
                return;
            }
        };
        self.opened.fetch_add(1, Ordering::Relaxed);
        // Counted open before its opening is judged.
        self.open_now.fetch_add(1, Ordering::Relaxed);
        let (outcome, latency_us) = report_open(runner, self.label, started, None);
        let _ = ended.send((outcome, latency_us, true)).await;
        let in_session = PhaseRunner {
            live: LiveSession::fixed(session.clone()),
            ..runner.clone()
        };
        let think = Duration::from_secs_f64(self.model.think_ms / 1000.0);
        let mut made = 0u64;
        while self.model.calls_each.is_none_or(|n| made < n) {
            runner.control.wait_unpaused().await;
            if runner.halt.is_set() || self.sessions_end.is_set() {
                break;
            }
            if let Some(counted) = in_session.call(made, None).await {
                let _ = ended
                    .send((counted.outcome, counted.latency_us, false))
                    .await;
            }
            made += 1;
            tokio::select! {
                _ = runner.halt.wait() => break,
                _ = self.sessions_end.wait() => break,
                _ = tokio::time::sleep(think) => {}
            }
        }
        self.open_now.fetch_sub(1, Ordering::Relaxed);
        drop(in_session);
        if session.close(self.options.shutdown_grace).await.forced {
            let _ = runner.events.send(Event::ForcedStop);
        }
    }
}

/// Judge each window's calls; send the result so far after each, and at
/// the end. The first window that breaks the objective ends the sessions.
async fn judge(
    users: Arc<Users>,
    server: Option<MeasuredProcess>,
    mut results: mpsc::Receiver<Ended>,
) {
    let model = users.model;
    let runner = &users.runner;
    let start = Instant::now();
    let mut result = SessionsResult {
        objective: model.objective_words(),
        opened: 0,
        open_failed: 0,
        open_now: 0,
        most_open: 0,
        held_sessions: None,
        broke_at_sessions: None,
        broke_first: None,
        broke_on: None,
        generator_limit_at_sessions: None,
        generator_limit_on: None,
        windows: Vec::new(),
    };
    let mut tick = tokio::time::interval(Duration::from_secs_f64(model.window_s));
    tick.tick().await; // the first tick is at once
    let mut window = Window::default();
    let mut meter = CostMeter::start(server.as_ref());
    let mut judging = true;
    loop {
        let more = tokio::select! {
            got = results.recv() => match got {
                Some((outcome, latency_us, opening)) => {
                    let open = users.open_now.load(Ordering::Relaxed);
                    window.record(outcome, latency_us, opening, open);
                    result.most_open = result.most_open.max(open);
                    continue;
                }
                None => false,
            },
            _ = tick.tick() => true,
        };
        let sessions = users.open_now.load(Ordering::Relaxed);
        result.open_now = sessions;
        result.most_open = result.most_open.max(sessions);
        result.opened = users.opened.load(Ordering::Relaxed);
        result.open_failed = users.open_failed.load(Ordering::Relaxed);
        let cost = meter.advance();
        // Stopped at mcpstorm's file limit: this window is still judged.
        let own_limit = users.own_limit.lock().ok().and_then(|l| l.clone());
        if judging && window.calls > 0 {
            let broke = window.judge(&model);
            let at_s = start.elapsed().as_secs_f64();
            if result.windows.len() < MOST_WINDOWS_KEPT {
                result.windows.push(SessionsWindow {
                    at_s,
                    sessions,
                    calls: window.calls,
                    open_failed: window.open_failed,
                    p99_ms: window.p99_ms(),
                    success_rate: window.success_rate(),
                    server_cpu_cores: cost.server_cpu.as_ref().map(|c| c.cores_used),
                    broke_on: broke.as_ref().map(|(_, why)| why.clone()),
                });
            }
            if let Some(why) = generator_cpu_limit(&cost) {
                result.generator_limit_at_sessions = Some(sessions);
                result.generator_limit_on = Some(why);
                judging = false;
                users.sessions_end.set();
            } else if let Some((kind, symptom)) = broke {
                let (first, why) = match server_cpu_limit(&cost) {
                    Some(cpu) => ("server_cpu", format!("{symptom}; the limit: {cpu}")),
                    None => (kind, symptom),
                };
                // Broken on errors: the sessions open up to the first one
                // were held, and it came with so many open.
                let mut broke_with = sessions;
                if let Some((held_before, open_then)) =
                    window.before_failure.filter(|_| kind == "errors")
                {
                    result.held_sessions = result.held_sessions.max(Some(held_before));
                    broke_with = open_then;
                }
                result.broke_at_sessions = Some(broke_with);
                result.broke_first = Some(first.to_string());
                result.broke_on = Some(why);
                judging = false;
                users.sessions_end.set();
            } else {
                // Met: as many as were open at any moment of it were held.
                let most = sessions.max(window.most_open);
                result.held_sessions = Some(result.held_sessions.map_or(most, |h| h.max(most)));
            }
        }
        if let Some((open_then, why)) = own_limit.filter(|_| judging) {
            result.generator_limit_at_sessions = Some(open_then);
            result.generator_limit_on = Some(why);
            judging = false;
        }
        window = Window::default();
        let _ = runner.events.send(Event::SessionsHeld {
            phase: runner.phase_index,
            result: result.clone(),
        });
        if !more {
            break;
        }
    }
    runner.note(format!("sessions: {}", result.in_words()));
}

/// The calls that ended in one window.
#[derive(Default)]
struct Window {
    latency: Option<LatencyHistogram>,
    calls: u64,
    ok: u64,
    open_failed: u64,
    /// The most sessions open while its calls all succeeded, and the
    /// number open at its first failure, once one came.
    most_open_ok: u64,
    before_failure: Option<(u64, u64)>,
    /// The most sessions open as any of its calls ended.
    most_open: u64,
}

impl Window {
    /// One call (or opening) that ended with `open` sessions open.
    fn record(&mut self, outcome: Outcome, latency_us: u64, opening: bool, open: u64) {
        self.calls += 1;
        self.ok += u64::from(outcome == Outcome::Ok);
        self.most_open = self.most_open.max(open);
        if outcome == Outcome::Ok {
            if self.before_failure.is_none() {
                self.most_open_ok = self.most_open_ok.max(open);
            }
        } else if self.before_failure.is_none() {
            self.before_failure = Some((self.most_open_ok, open));
        }
        self.open_failed += u64::from(opening && outcome != Outcome::Ok);
        self.latency
            .get_or_insert_with(LatencyHistogram::default)
            .record(latency_us);
    }

    fn p99_ms(&self) -> f64 {
        self.latency
            .as_ref()
            .map_or(0.0, |l| l.quantiles_ms([0.99])[0])
    }

    fn success_rate(&self) -> f64 {
        self.ok as f64 / self.calls.max(1) as f64
    }

    /// What of the objective the window broke: errors, then latency.
    fn judge(&self, model: &Sessions) -> Option<(&'static str, String)> {
        let success = self.success_rate();
        if success < model.success_rate {
            let refused = if self.open_failed > 0 {
                format!(", openings failed: {}", self.open_failed)
            } else {
                String::new()
            };
            return Some((
                "errors",
                format!(
                    "errors: {:.2} % succeeded, below {} %{refused}",
                    success * 100.0,
                    model.success_rate * 100.0
                ),
            ));
        }
        let p99 = self.p99_ms();
        model.p99_ms.filter(|bound| p99 > *bound).map(|bound| {
            (
                "latency",
                format!("latency: p99 {p99:.1} ms, above {bound} ms"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse_error, parsed};

    #[test]
    fn sessions_are_read_with_their_objective() {
        let model = parsed(
            r#"kind = "sessions", arrival_rate = 5, duration_s = 60, think_ms = 200, p99_ms = 50"#,
        );
        assert_eq!(
            model.to_string(),
            "sessions opened at 5/s for 60 s, calls until the arrivals end, 200 ms apart: \
             p99 ≤ 50 ms, success ≥ 99.9 %"
        );
        assert_eq!(model.own_label(), Some(super::LABEL));
        let e = parse_error(r#"kind = "sessions", duration_s = 5"#);
        assert!(e.contains("needs `arrival_rate`"), "{e}");
        let e =
            parse_error(r#"kind = "sessions", arrival_rate = 5, duration_s = 5, window_s = 0.1"#);
        assert!(e.contains("window_s"), "{e}");
    }
}
