//! `mcpstorm run`: load the scenarios, run each against a fresh server, show
//! them (dashboard, or progress lines and summaries), write the report,
//! choose the exit code.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};

use super::mcp_json::ConfigServer;
use super::{RunArgs, TargetArgs, TransportKind, exit, secrets};
use crate::engine::{self, CancelToken, EngineError, LoadControl, RunOptions, panics};
use crate::report::{
    self, Destination, FileReport, Finished, Format, Incomplete, LiveFeed, Output, ProgressLine,
    PrometheusOutput, Report, RunCommand, RunStatus, ScenarioResult, TextSummary, Verdict,
};
use crate::scenario::{self, Scenario, builtin};
use crate::stats::Snapshot;
use crate::transport::{ConnectOptions, HttpTarget, ServerCommand, Target, TlsOptions, custody};
use crate::ui;

/// `--segment`: each scenario's share, and the record of the whole test the
/// report carries; refused where the segments would not share a server.
fn split(
    scenarios: &mut [Scenario],
    segment: crate::load::Segment,
    server: &Target,
    start_at: Option<std::time::SystemTime>,
) -> Result<report::SegmentRecord, String> {
    if !matches!(server, Target::Http(http) if http.server.is_none()) {
        return Err(
            "the segments of a test share one server: give its --url (a server \
                    mcpstorm starts, over stdio or HTTP, would be one server a segment)"
                .into(),
        );
    }
    let whole = scenarios
        .iter()
        .map(|s| report::WholeScenario {
            name: s.name.clone(),
            phases: s
                .phases
                .iter()
                .map(|p| format!("{}: {}", p.name, p.load))
                .collect(),
        })
        .collect();
    for scenario in scenarios.iter_mut() {
        scenario.split(segment)?;
    }
    Ok(report::SegmentRecord {
        index: segment.index + 1,
        count: segment.count,
        start_at_unix_s: start_at
            .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|since| since.as_secs_f64()),
        whole,
    })
}

/// The server to test and how to reach it: an entry of --config; an HTTP
/// endpoint (--url, --server-cmd, --pid, --transport http or sse); the command after
/// `--`; or this binary's `serve`.
pub fn target(args: &TargetArgs) -> Result<Target, String> {
    let end_session = !args.keep_session;
    let tls = Arc::new(TlsOptions {
        ca_file: args.cacert.clone(),
        insecure: args.insecure,
        client_cert: args.cert.clone().zip(args.key.clone()),
    });
    let environment = secrets::environment(args)?;
    let oauth = secrets::oauth(args)?.map(Arc::new);
    let mut headers = secrets::headers(args)?;
    let given_url = args.url.as_deref().map(secrets::url).transpose()?;
    let (url, user) = match given_url {
        Some(given) => {
            headers.extend(given.basic_auth);
            (Some(given.url), given.user)
        }
        None => (None, None),
    };
    if let Some(config) = &args.config {
        return match super::mcp_json::server_from(config, args.server_name.as_deref())
            .map_err(|e| e.to_string())?
        {
            ConfigServer::Command(_) if args.pid.is_some() => Err(format!(
                "--pid is for HTTP servers; the entry in {} is a stdio command, \
                 which mcpstorm starts and measures itself",
                config.display()
            )),
            ConfigServer::Command(_) if oauth.is_some() => Err(OAUTH_OVER_HTTP.into()),
            ConfigServer::Command(_) if args.http2 => Err(HTTP2_OVER_HTTP.into()),
            ConfigServer::Http {
                legacy_sse: true, ..
            } if args.http2 => Err(HTTP2_OVER_HTTP.into()),
            ConfigServer::Command(mut command) => {
                command.env.extend(environment);
                Ok(Target::Stdio(command))
            }
            ConfigServer::Http {
                url,
                headers: mut configured,
                legacy_sse,
            } => {
                configured.extend(headers);
                Ok(Target::Http(HttpTarget {
                    url: Some(url),
                    user: None,
                    headers: configured,
                    server: None,
                    pid: args.pid,
                    end_session,
                    tls: tls.clone(),
                    legacy_sse,
                    oauth: oauth.clone(),
                    follow_redirects: args.follow_redirects,
                    http2: args.http2,
                }))
            }
        };
    }
    let given = match &args.server_cmd {
        Some(line) => {
            let words = shlex::split(line)
                .filter(|w| !w.is_empty())
                .ok_or_else(|| format!("--server-cmd {line:?}: unbalanced quotes or empty"))?;
            Some(words)
        }
        None => (!args.server.is_empty()).then(|| args.server.clone()),
    };
    let legacy_sse = args.transport == Some(TransportKind::Sse);
    let http = args.transport.is_some_and(TransportKind::is_http)
        || args.url.is_some()
        || args.server_cmd.is_some()
        || args.pid.is_some();
    if args.transport == Some(TransportKind::Stdio) && http {
        return Err(
            "--transport stdio cannot be combined with --url, --server-cmd or --pid".into(),
        );
    }
    let command = |words: Option<Vec<String>>, builtin: &[&str]| -> Result<ServerCommand, String> {
        let mut command = match words.as_deref().and_then(|w| w.split_first()) {
            // The demo names this binary by its path: it is shown as `mcpstorm`.
            Some((program, rest))
                if std::env::current_exe().is_ok_and(|me| me.as_os_str() == program.as_str()) =>
            {
                ServerCommand::this_binary(rest.to_vec()).map_err(|e| e.to_string())?
            }
            Some((program, rest)) => ServerCommand::new(program.clone(), rest.to_vec()),
            None => ServerCommand::this_binary(builtin.iter().map(|a| a.to_string()).collect())
                .map_err(|e| e.to_string())?,
        };
        command.env = environment.clone();
        Ok(command)
    };
    if oauth.is_some() && !http {
        return Err(OAUTH_OVER_HTTP.into());
    }
    if args.http2 && (!http || legacy_sse) {
        return Err(HTTP2_OVER_HTTP.into());
    }
    if !http {
        return Ok(Target::Stdio(command(given, &["serve"])?));
    }
    // A bare URL (or one with --pid) is a server mcpstorm does not start.
    let server = match (&given, &url) {
        (None, Some(_)) => None,
        _ if legacy_sse => Some(command(
            given,
            &["serve", "--http", "127.0.0.1:0", "--legacy-sse"],
        )?),
        _ => Some(command(given, &["serve", "--http", "127.0.0.1:0"])?),
    };
    Ok(Target::Http(HttpTarget {
        url,
        user,
        headers,
        server,
        pid: args.pid,
        end_session,
        tls,
        legacy_sse,
        oauth,
        follow_redirects: args.follow_redirects,
        http2: args.http2,
    }))
}

/// OAuth is for HTTP targets (a stdio server takes its credentials from its
/// environment, as the specification says).
const OAUTH_OVER_HTTP: &str = "--oauth-client-id is for HTTP servers (--url, --server-cmd, \
     --transport sse): a stdio server takes credentials from its environment (--env)";

/// HTTP/2 carries Streamable HTTP's exchanges.
const HTTP2_OVER_HTTP: &str = "--http2 is for Streamable HTTP servers (--url, --server-cmd): \
     a stdio server has no HTTP, and the HTTP+SSE transport (--transport sse) is spoken \
     over HTTP/1.1";

/// Where the results go, in the order they are given them: the live view
/// (the dashboard, or progress lines when headless), the report files
/// (`--report`, then each `--out`: their "written" lines come before the
/// verdict), then the text summary (on stderr when stdout holds a report
/// file). A new output is one line here.
fn outputs(
    interactive: bool,
    files: Vec<(Format, Destination)>,
    metrics: Option<PrometheusOutput>,
) -> Vec<Box<dyn Output>> {
    let mut outputs: Vec<Box<dyn Output>> = Vec::new();
    if interactive {
        outputs.push(Box::new(ui::Dashboard));
    } else {
        outputs.push(Box::new(ProgressLine));
    }
    if let Some(metrics) = metrics {
        outputs.push(Box::new(metrics));
    }
    let summary = TextSummary {
        to_stderr: files.iter().any(|(_, d)| d.is_stdout()),
        color: std::io::stdout().is_terminal() && !crate::report::colours_declined(),
    };
    for (format, destination) in files {
        outputs.push(Box::new(FileReport {
            format,
            destination,
        }));
    }
    outputs.push(Box::new(summary));
    outputs
}

/// The metrics endpoint, bound now: a taken port is said before anything
/// runs. Beyond loopback it is served, with a warning: the metrics name the
/// target and its tools.
fn bind_metrics(address: std::net::SocketAddr) -> Result<PrometheusOutput, String> {
    let output = PrometheusOutput::bind(address)
        .map_err(|e| format!("--out prometheus={address}: cannot listen there: {e}"))?;
    if !output.address.ip().is_loopback() {
        eprintln!(
            "mcpstorm: warning: metrics served on {}, beyond loopback, without authentication",
            output.address
        );
    }
    eprintln!(
        "mcpstorm: metrics at http://{}/metrics while the run lasts",
        output.address
    );
    Ok(output)
}

/// How the run was stopped from outside, if it was.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    None,
    Interrupt,
    Terminate,
    /// The terminal went away (SIGHUP): stopped as SIGTERM stops a run.
    Hangup,
}

/// Runs the scenarios one after another and answers the dashboard's commands.
struct Runner {
    scenarios: Vec<Scenario>,
    options: RunOptions,
    target: report::ReportedTarget,
    /// Set to stop everything (quit, Ctrl-C, SIGTERM).
    halt: CancelToken,
    control: LoadControl,
    snapshots: watch::Sender<Arc<Snapshot>>,
    status: watch::Sender<RunStatus>,
    restart: Arc<Notify>,
    /// `--start-at` is the start of the first scenario run: later ones (and
    /// reruns) begin when they are ready.
    start_pending: AtomicBool,
    interactive: bool,
    segment: Option<report::SegmentRecord>,
}

impl Runner {
    /// Run every scenario; returns the report of the last run (each `r` on
    /// the final view starts another, numbered). `on_run_over` gets each run
    /// that reached the final view, before it waits.
    async fn run_all(
        &self,
        on_result: impl Fn(&ScenarioResult),
        on_run_over: impl Fn(&Report),
    ) -> Report {
        let mut run = 0;
        loop {
            run += 1;
            let mut report = Report::new(self.target.clone());
            report.run = run;
            report.segment = self.segment.clone();
            self.status.send_modify(|s| {
                s.finished.clear();
                s.all_done = false;
                s.setup_error = None;
            });
            let mut index = 0;
            while index < self.scenarios.len() && !self.halt.is_set() {
                let scenario = &self.scenarios[index];
                self.status.send_modify(|s| {
                    s.scenario_index = index;
                    s.description = scenario.description.clone();
                });
                let Some(result) = self.run_one(scenario).await else {
                    continue; // restarted: the same scenario again, fresh server
                };
                on_result(&result);
                let setup_failed = result.verdict == Verdict::Error;
                self.status.send_modify(|s| {
                    s.finished.push(Finished {
                        name: result.name.clone(),
                        verdict: result.verdict,
                        reasons: result.reasons(),
                    });
                    if setup_failed {
                        s.setup_error = result.error.clone();
                    }
                });
                report.push(result);
                if setup_failed {
                    break;
                }
                index += 1;
            }
            self.status.send_modify(|s| s.all_done = true);
            if !self.interactive || self.halt.is_set() {
                return report;
            }
            on_run_over(&report);
            // The final view stays until the person quits or asks for a rerun.
            tokio::select! {
                _ = self.halt.wait() => return report,
                _ = self.restart.notified() => {}
            }
        }
    }

    /// Run one scenario; `None` when a restart cut it short.
    async fn run_one(&self, scenario: &Scenario) -> Option<ScenarioResult> {
        let panics_before = panics::mark();
        let run_halt = CancelToken::default();
        let restarted = Arc::new(AtomicBool::new(false));
        let forward = {
            let (halt, run_halt, restart, restarted) = (
                self.halt.clone(),
                run_halt.clone(),
                self.restart.clone(),
                restarted.clone(),
            );
            tokio::spawn(async move {
                tokio::select! {
                    _ = halt.wait() => {}
                    _ = restart.notified() => restarted.store(true, Ordering::Relaxed),
                }
                run_halt.set();
            })
        };
        let later;
        let options = if self.start_pending.swap(false, Ordering::Relaxed)
            || self.options.start_at.is_none()
        {
            &self.options
        } else {
            later = RunOptions {
                start_at: None,
                ..self.options.clone()
            };
            &later
        };
        let outcome = engine::run_scenario(
            scenario,
            options,
            self.snapshots.clone(),
            run_halt,
            self.control.clone(),
        )
        .await;
        forward.abort();
        if restarted.load(Ordering::Relaxed) {
            return None;
        }
        // Stopped before it could start (the person quit while the server
        // was starting): an interruption, not a setup error.
        let interrupted = matches!(outcome, Err(EngineError::Interrupted(_)));
        let outcome = match (outcome, panics::since(panics_before)) {
            (_, Some(bug)) => Err(bug),
            (Ok(snapshot), None) => Ok(snapshot),
            (Err(error), None) => Err(error.to_string()),
        };
        Some(match outcome {
            Ok(snapshot) => ScenarioResult {
                regressions: scenario.regressions.clone(),
                ..ScenarioResult::judged(
                    &scenario.name,
                    &scenario.description,
                    &scenario.source,
                    snapshot,
                )
            },
            Err(error) => ScenarioResult {
                name: scenario.name.clone(),
                description: scenario.description.clone(),
                source: scenario.source.clone(),
                verdict: Verdict::Error,
                error: Some(error),
                incomplete: interrupted.then_some(Incomplete::Interrupted),
                regressions: scenario.regressions.clone(),
                result: None,
            },
        })
    }

    /// Carry out the dashboard's commands until it quits.
    fn obey(
        &self,
        mut commands: mpsc::UnboundedReceiver<RunCommand>,
    ) -> tokio::task::JoinHandle<()> {
        let (halt, control, status, restart) = (
            self.halt.clone(),
            self.control.clone(),
            self.status.clone(),
            self.restart.clone(),
        );
        tokio::spawn(async move {
            while let Some(command) = commands.recv().await {
                match command {
                    RunCommand::Quit => {
                        halt.set();
                        return;
                    }
                    RunCommand::TogglePause => control.set_paused(!control.is_paused()),
                    RunCommand::Raise => control.raise(),
                    RunCommand::Lower => control.lower(),
                    RunCommand::Restart => restart.notify_one(),
                }
                status.send_modify(|s| {
                    s.paused = control.is_paused();
                    s.load_scale = control.scale();
                });
            }
        })
    }
}

pub async fn run(args: RunArgs) -> ExitCode {
    let names: Vec<String> = if args.scenarios.is_empty() {
        builtin::names().into_iter().map(String::from).collect()
    } else {
        args.scenarios.clone()
    };
    // Every scenario is checked before anything runs: a typo in the third file
    // must not surface after the first two have run for minutes.
    let mut scenarios: Vec<Scenario> = Vec::new();
    for name in &names {
        match scenario::load(name) {
            Ok(s) => scenarios.push(s),
            Err(error) => {
                eprintln!("mcpstorm: {error}");
                return ExitCode::from(exit::SETUP);
            }
        }
    }
    if !(args.include.is_empty() && args.exclude.is_empty()) {
        if !scenarios.iter().any(Scenario::has_auto_mix) {
            eprintln!(
                "mcpstorm: --include and --exclude choose the tools of an automatic mix \
                 (`auto = true`, as in the built-in `tools`); none of these scenarios has one"
            );
            return ExitCode::from(exit::SETUP);
        }
        for scenario in &mut scenarios {
            scenario.include_and_exclude(&args.include, &args.exclude);
        }
    }
    if !args.slo.is_empty() {
        let objective = args
            .slo
            .iter()
            .fold(crate::load::Objective::default(), |all, one| all.and(*one));
        let mut held = false;
        for scenario in &mut scenarios {
            held |= scenario.hold_to(&objective);
        }
        if !held {
            eprintln!(
                "mcpstorm: --slo sets the objective of a capacity search (`kind = \"capacity\"`, \
                 as in the built-in `capacity`) or of sessions as users (`kind = \"sessions\"`); \
                 none of these scenarios has one"
            );
            return ExitCode::from(exit::SETUP);
        }
    }
    let server = match target(&args.target) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("mcpstorm: {error}");
            return ExitCode::from(exit::SETUP);
        }
    };
    let segment = match args.segment {
        Some(segment) => match split(&mut scenarios, segment, &server, args.start_at) {
            Ok(record) => Some(record),
            Err(error) => {
                eprintln!("mcpstorm: --segment {segment}: {error}");
                return ExitCode::from(exit::SETUP);
            }
        },
        None => None,
    };
    // Before anything runs: an hour's soak must not end in "cannot write".
    let files = match super::outputs::destinations(
        args.report.as_deref(),
        &super::outputs::files(&args.outs),
    ) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("mcpstorm: {error}");
            return ExitCode::from(exit::SETUP);
        }
    };
    let options = RunOptions {
        target: server.clone(),
        protocol: args.target.protocol_choice(),
        call_timeout: args.timeout_ms.map(Duration::from_millis),
        probe_interval: args
            .probe_interval_ms
            .map(|ms| Duration::from_millis(ms.max(10))),
        connect: ConnectOptions {
            max_message_bytes: args.max_message_bytes,
            startup_timeout: Duration::from_millis(args.startup_timeout_ms),
            check_listener: true,
        },
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        snapshot_interval: Duration::from_millis(250),
        measure_process: args.measure_process.clone(),
        start_at: args.start_at,
    };
    let interactive = args.tui
        || (!args.headless && std::io::stdout().is_terminal() && std::io::stdin().is_terminal());
    let metrics = match super::outputs::metrics_address(&args.outs)
        .and_then(|address| address.map(bind_metrics).transpose())
    {
        Ok(metrics) => metrics.map(|metrics| match args.segment {
            Some(segment) => metrics.for_segment(&segment.to_string()),
            None => metrics,
        }),
        Err(error) => {
            eprintln!("mcpstorm: {error}");
            return ExitCode::from(exit::SETUP);
        }
    };
    let mut outputs = outputs(interactive, files, metrics);
    let target = report::ReportedTarget {
        transport: server.kind(),
        command: server.to_string(),
        tls_unverified: matches!(&server, Target::Http(http) if http.tls.insecure),
    };
    let (snapshots, snapshots_rx) = watch::channel(Arc::new(Snapshot::default()));
    let scenario_count = scenarios.len();
    let (status, status_rx) = watch::channel(RunStatus {
        scenario_count: scenarios.len(),
        // The dashboard's header and the progress line say which share.
        target: match args.segment {
            Some(segment) => format!("{} — segment {segment}", target.command),
            None => target.command.clone(),
        },
        transport: target.transport.to_string(),
        load_scale: 1.0,
        ..RunStatus::default()
    });
    let halt = CancelToken::default();
    // Before the dashboard takes the terminal: a signal from here on ends the
    // run in order, the terminal restored.
    let ending = Arc::new(AtomicBool::new(false));
    let stop = watch_signals(halt.clone(), ending.clone(), interactive);
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let feed = LiveFeed {
        snapshots: snapshots_rx,
        status: status_rx,
        commands,
        halt: halt.clone(),
        over: CancelToken::default(),
    };
    let mut following = Vec::new();
    for output in &mut outputs {
        match output.follow(&feed) {
            Ok(task) => following.extend(task),
            Err(error) => {
                eprintln!("mcpstorm: {error}");
                return ExitCode::from(exit::SETUP);
            }
        }
    }
    let holds_the_terminal = outputs.iter().any(|o| o.holds_the_terminal());
    let runner = Runner {
        scenarios,
        options,
        target,
        halt: halt.clone(),
        control: LoadControl::default(),
        snapshots,
        status,
        restart: Arc::new(Notify::new()),
        start_pending: AtomicBool::new(args.start_at.is_some()),
        interactive,
        segment,
    };
    let obeying = runner.obey(commands_rx);
    // Said once the dashboard has let go of the screen.
    let run_over_errors = std::cell::RefCell::new(Vec::new());
    let report = runner
        .run_all(
            |result| {
                if !holds_the_terminal {
                    outputs.iter().for_each(|output| output.scenario(result));
                }
            },
            |report| {
                for output in &outputs {
                    // Said when the run ends: the dashboard holds the screen.
                    if let Err(error) = output.run_over(report) {
                        run_over_errors.borrow_mut().push(error.to_string());
                    }
                }
            },
        )
        .await;
    feed.over.set();
    for task in following {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("mcpstorm: {error}"),
            Err(error) => eprintln!("mcpstorm: a live output stopped: {error}"),
        }
    }
    obeying.abort();
    for error in run_over_errors.take() {
        eprintln!("mcpstorm: {error}");
    }
    if holds_the_terminal {
        // The screen is back: leave the summaries where the person can read them.
        for result in &report.scenarios {
            outputs.iter().for_each(|output| output.scenario(result));
        }
    }
    // The run is over: a signal now has nothing left to stop, and ends
    // mcpstorm at once (writing the report may wait, on a FIFO, for ever).
    ending.store(true, Ordering::SeqCst);
    let mut report = report;
    // Stopped before the end: by a signal, or by quitting the dashboard mid-run
    // (quitting the final view is not an interruption).
    let cut_short = report.scenarios.len() < scenario_count
        || report.scenarios.iter().any(|s| {
            s.incomplete == Some(Incomplete::Interrupted)
                || s.result.as_ref().is_some_and(|r| r.interrupted)
        });
    let stopped = match *stop.borrow() {
        Stop::None if halt.is_set() && cut_short => Stop::Interrupt,
        other => other,
    };
    report.interrupted = stopped != Stop::None;
    for output in &outputs {
        if let Err(error) = output.finish(&report) {
            eprintln!("mcpstorm: {error}");
            return ExitCode::from(exit::SETUP);
        }
    }
    ExitCode::from(match (stopped, report.verdict) {
        (Stop::Interrupt, _) => exit::INTERRUPTED,
        (Stop::Terminate, _) => exit::TERMINATED,
        (Stop::Hangup, _) => exit::HANGUP,
        (_, Verdict::Pass) => exit::PASS,
        (_, Verdict::Fail) => exit::FAIL,
        (_, Verdict::Error) => exit::SETUP,
    })
}

/// Ctrl-C, SIGTERM and SIGHUP stop the load; the run then ends in order,
/// the server's tree stopped and the report written. (Without a handler
/// SIGHUP — the terminal or the tmux session closing — killed mcpstorm on the
/// spot and orphaned the server.) A signal once the run is already stopping
/// (a second Ctrl-C) or over (`ending`: only the report is left to write)
/// ends mcpstorm at once.
fn watch_signals(
    halt: CancelToken,
    ending: Arc<AtomicBool>,
    interactive: bool,
) -> watch::Receiver<Stop> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = watch::channel(Stop::None);
    // Registered here, before the task first runs: a signal that came before
    // a busy runtime got round to it killed mcpstorm without its report.
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return rx;
    };
    tokio::spawn(async move {
        loop {
            let stop = tokio::select! {
                _ = interrupt.recv() => Stop::Interrupt,
                _ = terminate.recv() => Stop::Terminate,
                _ = hangup.recv() => Stop::Hangup,
            };
            if halt.is_set() || ending.load(Ordering::SeqCst) {
                exit_at_once(stop, interactive);
            }
            let _ = tx.send(stop);
            halt.set();
            if !interactive {
                eprintln!("mcpstorm: stopping (a second Ctrl-C stops at once, without the report)");
            }
        }
    });
    rx
}

/// Leave now: restore the terminal, kill every process mcpstorm started,
/// say what was lost.
fn exit_at_once(stop: Stop, interactive: bool) -> ! {
    if interactive {
        ratatui::restore();
    }
    custody::kill_all_now();
    eprintln!("mcpstorm: stopped at once: its servers were killed; the report was not written");
    std::process::exit(i32::from(match stop {
        Stop::Terminate => exit::TERMINATED,
        Stop::Hangup => exit::HANGUP,
        Stop::Interrupt | Stop::None => exit::INTERRUPTED,
    }))
}
