//! mcpstorm owns every process it starts, transitively: whatever a server
//! forks, however it hides, and however mcpstorm itself is stopped (a signal,
//! `timeout -k`, SIGKILL), nothing it started is left running.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_nothing_left, free_port, mcpstorm, run, scenario_file};

/// A `sleep` whose duration is unique to this test, so that `pgrep -f` finds
/// it alone.
fn unique_sleep(base: u32) -> String {
    format!("sleep {base}.{}", std::process::id())
}

/// Whether a process whose command line holds `marker` runs (`pgrep -f`).
fn running(marker: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
}

/// Wait (bounded) until `marker` runs: the server has started its children.
fn wait_until_running(marker: &str, mcpstorm: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running(marker) {
        assert!(
            mcpstorm.try_wait().ok().flatten().is_none(),
            "mcpstorm ended before {marker} ran"
        );
        assert!(Instant::now() < deadline, "{marker} never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The child's exit, waited for `limit` at most (then it is killed and the
/// test fails: a run that never ends must not hang the suite).
fn wait_at_most(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Nothing holding `marker` runs, allowing `within` for processes that were
/// sent SIGKILL to be gone (a killed process exits once it gets a core).
fn assert_gone_within(marker: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while running(marker) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_nothing_left(marker);
}

/// A minute of steady load: long enough that the test stops it.
const MINUTE_OF_LOAD: &str = r#"
name = "minute"
[[phase]]
name = "load"
load = { kind = "rate", rate = 20, duration_s = 60 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"success_rate == 1" = {}
"#;

#[test]
fn a_daemon_that_escapes_into_its_own_session_is_stopped() {
    // `setsid -f` forks a child into a session of its own and returns at
    // once: the daemon is neither in the server's tree nor in its group.
    let sleep = unique_sleep(310);
    let script = format!("setsid -f {sleep}; exec {} serve", mcpstorm());
    let run = run(&["sequential", "--", "sh", "-c", &script]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_gone_within(&sleep, Duration::from_secs(10));
}

#[test]
fn a_sigkilled_mcpstorm_leaves_no_server_behind() {
    // An HTTP server does not exit when mcpstorm goes away, and its child (a
    // wrapper's server, as under `npx`) is not mcpstorm's child at all.
    let sleep = unique_sleep(311);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = format!(
        "sh -c '{sleep} & exec {} serve --http {listen}'",
        mcpstorm()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario_file(dir.path(), "minute.toml", MINUTE_OF_LOAD);
    let mut child = Command::new(mcpstorm())
        .args(["run", "--headless"])
        .arg(&scenario)
        .args([
            "--url",
            &format!("http://{listen}/mcp"),
            "--server-cmd",
            &server,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mcpstorm starts");
    wait_until_running(&sleep, &mut child);
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_gone_within(&sleep, Duration::from_secs(20));
    assert_gone_within(&listen, Duration::from_secs(20));
}

#[test]
fn a_sigterm_mid_run_stops_it_at_once_with_the_report_written() {
    // The SIGTERM of `timeout -k 5 N`, as CI runs a job, sent once the run
    // is under way (its first progress line: not a fixed delay, which a
    // busy machine's slow start-up would outlast). The server stalls with
    // calls in flight (their timeout is 30 s): the run must stop on SIGTERM,
    // not wait for them, so that `timeout` never needs its SIGKILL.
    use std::io::{BufRead, BufReader};
    let stall = format!("6{}", std::process::id());
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario_file(dir.path(), "minute.toml", MINUTE_OF_LOAD);
    let report = dir.path().join("report.json");
    let mut child = Command::new(mcpstorm())
        .args(["run", "--headless"])
        .arg(&scenario)
        .arg("--report")
        .arg(&report)
        .args([
            "--",
            mcpstorm(),
            "serve",
            "--stall-at",
            "5",
            "--stall-ms",
            &stall,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mcpstorm runs");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut said = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap_or(0) > 0,
            "the run never got under way: {said}"
        );
        said.push_str(&line);
        if line.starts_with("[minute]") {
            break;
        }
    }
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("waits") {
            break exit;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running 5 s after SIGTERM (timeout would SIGKILL it): {said}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    assert_eq!(exit.code(), Some(143), "{said}{rest}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report is written"))
            .expect("valid JSON");
    assert_eq!(report["interrupted"], true, "{report}");
    assert_gone_within(&format!("--stall-ms {stall}"), Duration::from_secs(10));
}

#[test]
fn daemons_of_many_servers_are_stopped_over_cold_starts_and_churn() {
    // Every server of a cold-start phase and of a churn phase (over stdio,
    // a server process per session) leaves a daemon in a session of its own.
    let sleep = unique_sleep(312);
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario_file(
        dir.path(),
        "many.toml",
        r#"
name = "many"
[[phase]]
name = "cold"
load = { kind = "coldstart", iterations = 4 }
[[phase]]
name = "churn"
load = { kind = "churn", sessions = 4 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"success_rate == 1" = {}
"#,
    );
    let scenario = scenario.to_string_lossy().into_owned();
    let script = format!("setsid -f {sleep}; exec {} serve", mcpstorm());
    let run = run(&[&scenario, "--", "sh", "-c", &script]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_gone_within(&sleep, Duration::from_secs(10));
}

#[test]
fn an_http_server_restarted_after_crashes_leaves_nothing() {
    // on_crash = "restart" over HTTP: each of the servers started (the first
    // and its replacements) forks a child; all are gone at the end.
    let sleep = unique_sleep(313);
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario_file(
        dir.path(),
        "restarts.toml",
        r#"
name = "restarts"
on_crash = "restart"
[[phase]]
name = "load"
load = { kind = "sequential", calls = 250 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"restarts >= 2" = {}
"#,
    );
    let scenario = scenario.to_string_lossy().into_owned();
    let server = format!(
        "sh -c '{sleep} & exec {} serve --http 127.0.0.1:0 --crash-after 100'",
        mcpstorm()
    );
    let run = run(&[&scenario, "--server-cmd", &server]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_gone_within(&sleep, Duration::from_secs(10));
}

#[test]
fn a_signal_during_a_hung_handshake_stops_the_run_at_once() {
    // The server answers nothing; the handshake would wait 30 s. SIGTERM
    // stops it there: the report is written, saying what was waited for.
    let sleep = unique_sleep(314);
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.json");
    let mut child = Command::new(mcpstorm())
        .args(["run", "--headless", "sequential", "--report"])
        .arg(&report)
        .args(["--", "sh", "-c", &format!("exec {sleep}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mcpstorm starts");
    wait_until_running(&sleep, &mut child);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let signalled = Instant::now();
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(143));
    assert!(
        took < Duration::from_secs(15),
        "took {took:?} (the handshake waits 30 s)"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report is written"))
            .expect("valid JSON");
    assert_eq!(report["interrupted"], true);
    let error = report["scenarios"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("interrupted while starting the server"),
        "{error}"
    );
    assert_gone_within(&sleep, Duration::from_secs(10));
}
