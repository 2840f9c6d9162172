//! `mcpstorm run`: load the scenarios, run each against a fresh server,
//! print progress and summaries, write the report, choose the exit code.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{RunArgs, exit};
use crate::engine::{self, Halt, LoadControl, RunOptions};
use crate::report::{Report, ScenarioResult, Target, Verdict, summary};
use crate::scenario::{self, Scenario, builtin};
use crate::stats::Snapshot;
use crate::transport::{ServerCommand, StdioOptions};

/// The server to test: the command after `--`, or this binary's `serve`.
fn server_command(args: &RunArgs) -> Result<ServerCommand, String> {
    let mut command = match args.server.split_first() {
        Some((program, rest)) => ServerCommand::new(program.clone(), rest.to_vec()),
        None => {
            let me = std::env::current_exe().map_err(|e| {
                format!("cannot find the mcpstorm binary to serve the built-in target: {e}")
            })?;
            ServerCommand::new(me.to_string_lossy().into_owned(), vec!["serve".to_string()])
        }
    };
    command.env = args.env.clone();
    Ok(command)
}

/// How the run was stopped, if it was.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    None,
    Interrupt,
    Terminate,
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
    let server = match server_command(&args) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("mcpstorm: {error}");
            return ExitCode::from(exit::SETUP);
        }
    };
    let options = RunOptions {
        server: server.clone(),
        protocol: args.protocol,
        call_timeout: args.timeout_ms.map(Duration::from_millis),
        probe_interval: args
            .probe_interval_ms
            .map(|ms| Duration::from_millis(ms.max(10))),
        stdio: StdioOptions {
            max_message_bytes: args.max_message_bytes,
        },
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        snapshot_interval: Duration::from_millis(250),
    };
    let halt = Halt::default();
    let stop = watch_signals(halt.clone());
    let mut report = Report::new(Target {
        transport: "stdio",
        command: server.to_string(),
    });
    let color = std::io::stdout().is_terminal();
    for scenario in &scenarios {
        if halt.is_set() {
            break;
        }
        eprintln!("mcpstorm: running {} against {server}", scenario.name);
        let (publish, snapshots) = watch::channel(Arc::new(Snapshot::default()));
        let progress = tokio::spawn(print_progress(snapshots));
        let outcome = engine::run_scenario(
            scenario,
            &options,
            publish,
            halt.clone(),
            LoadControl::default(),
        )
        .await;
        progress.abort();
        let result = match outcome {
            Ok(snapshot) => ScenarioResult::judged(
                &scenario.name,
                &scenario.description,
                &scenario.source,
                snapshot,
            ),
            Err(error) => ScenarioResult {
                name: scenario.name.clone(),
                description: scenario.description.clone(),
                source: scenario.source.clone(),
                verdict: Verdict::Error,
                error: Some(error.to_string()),
                incomplete: None,
                result: None,
            },
        };
        print!("{}", paint(&summary::scenario_summary(&result), color));
        let setup_failed = result.verdict == Verdict::Error;
        report.push(result);
        if setup_failed {
            break;
        }
    }
    let stopped = *stop.borrow();
    report.interrupted = stopped != Stop::None;
    if let Some(path) = &args.report {
        match report.write(path) {
            Ok(()) => eprintln!("mcpstorm: report written to {}", path.display()),
            Err(error) => {
                eprintln!(
                    "mcpstorm: cannot write the report to {}: {error}",
                    path.display()
                );
                return ExitCode::from(exit::SETUP);
            }
        }
    }
    let passed = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Pass)
        .count();
    println!(
        "mcpstorm: {} of {} scenario(s) passed — {}",
        passed,
        report.scenarios.len(),
        match report.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        }
    );
    ExitCode::from(match (stopped, report.verdict) {
        (Stop::Interrupt, _) => exit::INTERRUPTED,
        (Stop::Terminate, _) => exit::TERMINATED,
        (_, Verdict::Pass) => exit::PASS,
        (_, Verdict::Fail) => exit::FAIL,
        (_, Verdict::Error) => exit::SETUP,
    })
}

/// Ctrl-C and SIGTERM stop the load; the run then ends in order.
fn watch_signals(halt: Halt) -> watch::Receiver<Stop> {
    let (tx, rx) = watch::channel(Stop::None);
    tokio::spawn(async move {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return,
            };
        let stop = tokio::select! {
            _ = tokio::signal::ctrl_c() => Stop::Interrupt,
            _ = terminate.recv() => Stop::Terminate,
        };
        eprintln!("\nmcpstorm: stopping — finishing calls in flight and writing the report");
        let _ = tx.send(stop);
        halt.set();
    });
    rx
}

/// A progress line on stderr at most once a second.
async fn print_progress(mut snapshots: watch::Receiver<Arc<Snapshot>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let snapshot = snapshots.borrow_and_update().clone();
        if !snapshot.scenario.is_empty() {
            eprintln!("{}", summary::progress_line(&snapshot));
        }
    }
}

/// Colour the verdict words when stdout is a terminal; the words stay either way.
fn paint(text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    text.lines()
        .map(|line| {
            let painted = line
                .replacen(" PASS ", " \x1b[32mPASS\x1b[0m ", 1)
                .replacen(" FAIL ", " \x1b[31mFAIL\x1b[0m ", 1);
            if line.starts_with("━━") {
                painted
                    .replace("━━ PASS", "━━ \x1b[1;32mPASS\x1b[0m")
                    .replace("━━ FAIL", "━━ \x1b[1;31mFAIL\x1b[0m")
            } else {
                painted
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
