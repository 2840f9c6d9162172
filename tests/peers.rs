//! mcpstorm against third-party MCP servers installed from their registries:
//! the official `@modelcontextprotocol/server-everything` (Node) and servers on
//! the official Python `mcp` package (2.x MCPServer, 1.x FastMCP).
//!
//! Install them first: `bash tests/peers/install.sh` (pinned versions, into
//! the ignored `.peers/`); then `cargo test --test peers`. A missing peer fails
//! the test with that command — it is never skipped.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{f64_at, run, scenario_file};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn peer(relative: &str) -> String {
    let path = repo().join(".peers").join(relative);
    assert!(
        path.exists(),
        "peer missing: {} — install the peers with `bash tests/peers/install.sh`",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

fn everything() -> Vec<String> {
    vec![
        "node".into(),
        peer("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"),
    ]
}

fn python(venv: &str) -> Vec<String> {
    vec![
        peer(&format!("{venv}/bin/python")),
        repo()
            .join("tests/peers/echo_server.py")
            .to_string_lossy()
            .into_owned(),
    ]
}

fn run_against(scenarios: &[&str], extra: &[&str], server: &[String]) -> common::Run {
    let mut args: Vec<String> = scenarios.iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--".into());
    args.extend(server.iter().cloned());
    run(&args)
}

/// The sequential reference scenario passes, every echo is counted under its
/// tool, the expected revision was spoken, and server figures are real.
fn check_sequential(run: &common::Run, protocol: &str) {
    assert_eq!(run.code, 0, "{}", run.explain());
    let result = &run.scenario("sequential")["result"];
    assert_eq!(
        result["server"]["protocol_version"],
        protocol,
        "{}",
        run.explain()
    );
    let echo = result["per_label"]
        .as_array()
        .and_then(|labels| labels.iter().find(|l| l["label"] == "echo"))
        .expect("echo counted");
    assert_eq!(f64_at(echo, "/calls"), 1050.0);
    assert_eq!(f64_at(echo, "/outcomes/ok"), 1050.0);
    let resources = &result["resources"];
    assert!(f64_at(resources, "/rss_current_mb") > 20.0, "{resources}");
    assert!(f64_at(resources, "/fds_max") >= 3.0, "{resources}");
    assert!(f64_at(resources, "/threads_max") >= 1.0, "{resources}");
}

#[test]
fn server_everything_over_stdio() {
    let run = run_against(&["sequential"], &[], &everything());
    check_sequential(&run, "2025-11-25");
    // It announces list changes after initialize: counted, not taken for a response.
    let wire = &run.scenario("sequential")["result"]["wire"];
    assert!(f64_at(wire, "/notifications") >= 1.0);
    assert_eq!(f64_at(wire, "/correlation_violations"), 0.0);
}

#[test]
fn python_mcp2_speaks_the_stateless_revision() {
    check_sequential(
        &run_against(&["sequential"], &[], &python("py-mcp2")),
        "2026-07-28",
    );
}

#[test]
fn python_mcp2_speaks_the_handshake_when_asked() {
    let run = run_against(
        &["sequential"],
        &["--protocol", "2025-11-25"],
        &python("py-mcp2"),
    );
    check_sequential(&run, "2025-11-25");
}

#[test]
fn python_mcp1_gets_initialize_after_the_probe() {
    check_sequential(
        &run_against(&["sequential"], &[], &python("py-mcp1")),
        "2025-11-25",
    );
}

#[test]
fn concurrent_calls_stay_matched_on_every_peer() {
    for server in [everything(), python("py-mcp2"), python("py-mcp1")] {
        let run = run_against(&["concurrent"], &[], &server);
        assert_eq!(run.code, 0, "{server:?}: {}", run.explain());
    }
}

#[test]
fn a_garbage_collection_sawtooth_is_not_a_leak() {
    // server-everything's RSS saws by tens of MB under load without leaking.
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(
        dir.path(),
        "soak.toml",
        r#"
name = "soak"
[[phase]]
name = "warmup"
load = { kind = "sequential", calls = 200 }
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 8, calls = 10000 }
[[call]]
tool = "echo"
arguments = { message = "soak {seq}" }
[acceptance]
"rss_trend_mb_per_1k_calls <= 10" = {}
"success_rate == 1" = {}
"#,
    );
    let run = run_against(&[scenario.to_str().unwrap()], &[], &everything());
    assert_eq!(run.code, 0, "{}", run.explain());
    let resources = &run.scenario("soak")["result"]["resources"];
    // The RSS really moved by tens of MB.
    let swing = f64_at(resources, "/rss_max_mb") - f64_at(resources, "/rss_baseline_mb");
    assert!(swing > 15.0, "no swing to speak of: {swing} MB");
}

/// `(pid, parent pid, command name)` of every process.
fn processes() -> Vec<(u32, u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let name = stat[stat.find('(')? + 1..stat.rfind(')')?].to_string();
            let ppid = stat[stat.rfind(')')? + 2..]
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid, name))
        })
        .collect()
}

/// `VmRSS` in MB and the FD count of one process, read straight from /proc.
fn proc_usage(pid: u32) -> Option<(f64, u32)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u32;
    Some((kb / 1024.0, fds))
}

#[test]
fn a_wrapped_server_is_measured_as_the_whole_tree() {
    // `sh -c "node …; true"` keeps the shell as a wrapper around node, as npx
    // or uv run would: the figures must include node, not just the wrapper.
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(
        dir.path(),
        "steady.toml",
        r#"
name = "steady"
[[phase]]
name = "load"
load = { kind = "rate", rate = 200, duration_s = 4 }
[[call]]
tool = "echo"
arguments = { message = "x" }
"#,
    );
    let report = dir.path().join("report.json");
    let node = everything();
    let wrapped = format!("{} {}; true", node[0], node[1]);
    let mut child = Command::new(common::mcpstorm())
        .args(["run", "--headless", scenario.to_str().unwrap(), "--report"])
        .arg(&report)
        .args(["--", "sh", "-c", &wrapped])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Find sh (child of mcpstorm) and node (child of sh), then read /proc ourselves.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (shell, server) = loop {
        let all = processes();
        let shell = all
            .iter()
            .find(|(_, ppid, name)| *ppid == child.id() && name == "sh");
        let server = shell.and_then(|(sh, _, _)| all.iter().find(|(_, ppid, _)| ppid == sh));
        if let (Some(shell), Some(server)) = (shell, server) {
            break (shell.0, server.0);
        }
        assert!(
            Instant::now() < deadline,
            "no sh → node tree under mcpstorm"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_secs(2));
    let (server_mb, server_fds) = proc_usage(server).expect("node is running");
    let (shell_mb, shell_fds) = proc_usage(shell).expect("sh is running");
    assert!(child.wait().unwrap().success());

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let resources = &report["scenarios"][0]["result"]["resources"];
    assert_eq!(
        f64_at(resources, "/processes"),
        2.0,
        "wrapper and server: {resources}"
    );
    assert_eq!(
        f64_at(resources, "/pid") as u32,
        shell,
        "the spawned process is the root"
    );
    // Our reading falls inside what mcpstorm saw over the run, within 10 %.
    let seen: Vec<f64> = resources["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rss_mb"].as_f64().unwrap())
        .collect();
    let (low, high) = seen
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let truth = server_mb + shell_mb;
    assert!(
        truth >= low * 0.9 && truth <= high * 1.1,
        "/proc says {truth:.1} MB (node {server_mb:.1} + sh {shell_mb:.1}); mcpstorm saw {low:.1}..{high:.1}"
    );
    assert!(
        low > server_mb * 0.5,
        "the server's memory is counted, not just the wrapper's"
    );
    let fds = f64_at(resources, "/fds_max") as u32;
    assert!(
        fds >= server_fds + shell_fds && fds <= server_fds + shell_fds + 4,
        "/proc says {} FDs, mcpstorm {fds}",
        server_fds + shell_fds
    );
    // Both were stopped with the run.
    for pid in [shell, server] {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z"),
            "{pid} left running: {stat}"
        );
    }
}

#[test]
fn an_automatic_mix_calls_only_what_server_everything_marks_read_only() {
    let discovered = Command::new(common::mcpstorm())
        .arg("discover")
        .arg("--json")
        .arg("--")
        .args(everything())
        .output()
        .unwrap();
    assert!(discovered.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&discovered.stdout).unwrap();
    let tools = doc["catalog"]["tools"].as_array().unwrap();
    let read_only: Vec<&str> = tools
        .iter()
        .filter(|t| t["read_only"] == true)
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(tools.len() > read_only.len(), "some of its tools may write");
    // Its long-running tool is read-only but takes 10 s by default: left out.
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(
        dir.path(),
        "auto.toml",
        r#"
name = "auto"
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 4, calls = 200 }
[[call]]
auto = true
exclude = ["trigger-long-running-operation"]
[acceptance]
"crashes == 0" = {}
"success_rate >= 0.99" = {}
"#,
    );
    let run = run_against(&[scenario.to_str().unwrap()], &[], &everything());
    assert_eq!(run.code, 0, "{}", run.explain());
    let called: Vec<String> = run.scenario("auto")["result"]["per_label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        called.len(),
        read_only.len() - 1,
        "{called:?} vs {read_only:?}"
    );
    for name in &called {
        assert!(
            read_only.contains(&name.as_str()),
            "{name} is not read-only"
        );
    }
}
