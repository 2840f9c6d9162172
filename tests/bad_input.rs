//! Bad input gets a clear error and exit code 2: broken scenario files, a
//! server that is not there, a server that dies before answering.

mod common;

use std::process::Command;

use common::{mcpstorm, run, scenario_file};

#[test]
fn a_broken_scenario_names_the_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(
        dir.path(),
        "broken.toml",
        r#"name = "broken"

[[phase]]
name = "load"
load = { kind = "concurrent", workers = 0, calls = 10 }

[[call]]
tool = "echo"
"#,
    );
    let path = file.to_string_lossy().into_owned();
    for command in ["run", "check"] {
        let output = Command::new(mcpstorm())
            .args([command, &path])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("{path}:5:")),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("phase[0].load.workers"),
            "{command}: {stderr}"
        );
        assert!(stderr.contains("from 1 to 10000"), "{command}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

/// `mcpstorm check` on a file with `text`: it must refuse (exit 2); its message.
fn check_refuses(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), name, text);
    let output = Command::new(mcpstorm())
        .args(["check", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unknown_key_and_a_bad_criterion_are_named() {
    let stderr = check_refuses(
        "unknown.toml",
        "name = \"u\"\n[[phase]]\nname = \"load\"\nload = { kind = \"sequential\", calls = 1 }\nrepeat = 3\n[[call]]\nmethod = \"ping\"\n",
    );
    assert!(
        stderr.contains("unknown.toml:5:") && stderr.contains("repeat"),
        "{stderr}"
    );
    let stderr = check_refuses(
        "criterion.toml",
        "name = \"c\"\n[[phase]]\nname = \"load\"\nload = { kind = \"sequential\", calls = 1 }\n[[call]]\nmethod = \"ping\"\n[acceptance]\n\"rss_growht_mb < 5\" = {}\n",
    );
    assert!(
        stderr.contains("criterion.toml:8:") && stderr.contains("unknown metric `rss_growht_mb`"),
        "{stderr}"
    );
}

#[test]
fn every_builtin_checks_clean() {
    let output = Command::new(mcpstorm())
        .args([
            "check",
            "sequential",
            "concurrent",
            "memory-leak",
            "latency-stability",
            "mixed",
            "coldstart",
            "session-churn",
            "robustness",
            "tools",
            "leak-hunt",
            "capacity",
            "sessions",
            "demo",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed = Command::new(mcpstorm()).arg("scenarios").output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(
        listed.lines().count(),
        13,
        "six reference scenarios, session churn, robustness, tools, leak hunt, capacity, sessions and demo: {listed}"
    );
    assert!(listed.lines().last().is_some_and(|l| l.starts_with("demo")));
}

#[test]
fn a_missing_server_command_is_a_setup_error_naming_it() {
    let args = ["sequential", "--", "/nonexistent/mcp-server", "--flag"];
    let run = run(&args);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stdout.contains("/nonexistent/mcp-server"),
        "{}",
        run.explain()
    );
    assert_eq!(run.report()["verdict"], "ERROR");
}

#[test]
fn a_server_that_dies_before_initialize_is_quoted() {
    let args = [
        "sequential",
        "--",
        "sh",
        "-c",
        "echo 'fatal: missing API key' >&2; exit 3",
    ];
    let run = run(&args);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stdout.contains("exit code 3"), "{}", run.explain());
    assert!(
        run.stdout.contains("fatal: missing API key"),
        "{}",
        run.explain()
    );
}

#[test]
fn a_server_answering_an_unsupported_version_is_refused() {
    // Answers every request (the discover probe, then initialize) as a server
    // stuck on a revision nobody speaks.
    let script = r#"
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if "id" in message:
        result = {"protocolVersion": "1999-01-01", "capabilities": {},
                  "serverInfo": {"name": "old", "version": "0"}}
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), flush=True)
"#;
    let args = ["sequential", "--", "python3", "-c", script];
    let run = run(&args);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stdout.contains("1999-01-01"), "{}", run.explain());
}

#[test]
fn a_server_that_never_answers_is_stopped_after_the_setup_error() {
    // Answers nothing, ignores stdin closing and SIGTERM: only SIGKILL stops it.
    let marker = format!("{}.5", 40 + std::process::id() % 1000);
    let script = format!("trap '' TERM; exec sleep {marker}");
    let args = [
        "sequential",
        "--startup-timeout-ms",
        "4000",
        "--",
        "sh",
        "-c",
        &script,
    ];
    let run = run(&args);
    assert_eq!(run.code, 2, "{}", run.explain());
    // One timeout for the whole handshake, and the message says what was
    // waited for: the probe and then initialize used to get 4 s each.
    assert!(
        run.stdout
            .contains("did not answer server/discover, then initialize, within 4s"),
        "{}",
        run.explain()
    );
    assert!(run.wall.as_secs_f64() < 8.0, "two timeouts: {:?}", run.wall);
    common::assert_nothing_left(&format!("sleep {marker}"));
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    // `mcpstorm metrics | head -1`, or a CI log that went away: stdout is a
    // pipe nobody reads. Closing the read end first makes every write fail.
    let closed_stdout = || {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        writer
    };
    for args in [&["metrics"][..], &["scenarios"][..]] {
        let output = Command::new(mcpstorm())
            .args(args)
            .stdout(closed_stdout())
            .output()
            .expect("mcpstorm runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // A run goes on to its end, with its report and its verdict's exit code.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let output = Command::new(mcpstorm())
        .args(["run", "concurrent", "--headless", "--report"])
        .arg(&report)
        .args(["--", mcpstorm(), "serve"])
        .stdout(closed_stdout())
        .output()
        .expect("mcpstorm runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(report.exists(), "the report is written");
}

#[test]
fn sighup_stops_the_run_in_order_like_sigterm() {
    // The terminal or the tmux session closing sends SIGHUP: the run must
    // stop its server and write its report, not die and orphan the server.
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(
        dir.path(),
        "long.toml",
        r#"
name = "long"
[[phase]]
name = "load"
load = { kind = "rate", rate = 50, duration_s = 120 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
"#,
    );
    let report = dir.path().join("report.json");
    let mut child = Command::new(mcpstorm())
        .args(["run", "--headless", scenario.to_str().unwrap(), "--report"])
        .arg(&report)
        .args(["--", mcpstorm(), "serve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mcpstorm runs");
    // Under way once the first progress line is out.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).expect("a progress line");
    assert!(line.contains("[long]"), "{line}");
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "no exit after SIGHUP");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(129));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report exists")).unwrap();
    assert_eq!(report["interrupted"], true);
    common::assert_server_stopped(&report["scenarios"][0]);
}

#[test]
fn a_zero_timeout_on_the_command_line_is_a_usage_error() {
    let output = Command::new(mcpstorm())
        .args(["run", "sequential", "--timeout-ms", "0"])
        .output()
        .expect("mcpstorm runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--timeout-ms"), "{stderr}");
}

#[test]
fn an_endless_scenario_file_is_refused_not_read_for_ever() {
    // `check /dev/zero` used to read without bound.
    let output = std::process::Command::new("timeout")
        .args(["60", mcpstorm(), "check", "/dev/zero"])
        .output()
        .expect("timeout runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains("/dev/zero") && said.contains("larger than"),
        "{said}"
    );
}
