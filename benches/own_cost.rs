//! mcpstorm's own cost while it drives 1,000 calls/s against the built-in
//! target: its CPU and its RSS, and whether the RSS grows with run length.
//! `cargo bench --bench own_cost` (5 minutes headless, then 5 minutes with the
//! dashboard under tmux when tmux is installed). `MCPSTORM_BENCH_SECONDS`
//! shortens both runs for a quick look.
//!
//! The figures are mcpstorm's own samples of itself (`/proc/self`, read with
//! each probe of the server), taken from the JSON report's time line.
//!
//! Beside them, the floor: a bare client (one thread, blocking I/O, the same
//! bytes, a sleep to each due instant) at the same rate against the same
//! target, its CPU from `getrusage`. A client that sleeps between calls pays
//! at least two wake-ups a call, whatever it does in between; that is the
//! least any client can cost at this rate on this machine.
//!
//! `MCPSTORM_BENCH_MODES` picks among `bare`, `headless` and `dashboard`
//! (comma-separated; all by default).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const RATE: u32 = 1000;

fn main() {
    let seconds: u64 = std::env::var("MCPSTORM_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let dir = std::env::temp_dir().join(format!("mcpstorm-own-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let scenario = dir.join("own-cost.toml");
    let text = format!(
        r#"
name = "own-cost"
probe_interval_ms = 1000
[[phase]]
name = "load"
load = {{ kind = "rate", rate = {RATE}, duration_s = {seconds} }}
[[call]]
tool = "echo"
arguments = {{ message = "cost {{seq}}" }}
"#
    );
    std::fs::write(&scenario, text).expect("the scenario is written");
    let modes = std::env::var("MCPSTORM_BENCH_MODES")
        .unwrap_or_else(|_| "bare,headless,dashboard".to_string());
    let wanted = |mode: &str| modes.split(',').any(|m| m.trim() == mode);
    println!("mcpstorm's own cost at {RATE} calls/s for {seconds} s\n");
    println!("| mode | calls | CPU mean | CPU max | RSS first → last | RSS max | RSS slope |");
    println!("|---|---|---|---|---|---|---|");
    if wanted("bare") {
        bare_row(seconds.min(BARE_SECONDS));
    }
    if wanted("headless") {
        let headless = run(&scenario, &dir.join("headless.json"), false, seconds);
        print_row("headless", &headless);
    }
    if wanted("dashboard") {
        if tmux_available() {
            let dashboard = run(&scenario, &dir.join("dashboard.json"), true, seconds);
            print_row("dashboard (tmux 160×45)", &dashboard);
        } else {
            println!("| dashboard | (tmux not installed: skipped) | | | | | |");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The floor's run is kept short: its cost per second does not change.
const BARE_SECONDS: u64 = 60;

/// The bare client at `RATE` calls/s: sleep to each due instant, call, repeat.
fn bare_row(seconds: u64) {
    let mut client = common::BareStdio::start();
    for _ in 0..1000 {
        client.call();
    }
    let calls = RATE as u64 * seconds;
    let interval = Duration::from_secs_f64(1.0 / RATE as f64);
    let cpu_before = common::thread_cpu_time();
    let started = std::time::Instant::now();
    let mut due = started;
    for _ in 0..calls {
        let now = std::time::Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        client.call();
        due += interval;
    }
    let elapsed = started.elapsed();
    let cpu = (common::thread_cpu_time() - cpu_before).as_secs_f64() / elapsed.as_secs_f64();
    println!(
        "| floor: bare client, one thread, {seconds} s | {calls} | {:.1} % | — | — | — | — |",
        cpu * 100.0
    );
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Run the scenario, headless or in the dashboard under tmux; the report.
fn run(
    scenario: &std::path::Path,
    report: &std::path::Path,
    dashboard: bool,
    seconds: u64,
) -> Value {
    let mcpstorm = env!("CARGO_BIN_EXE_mcpstorm");
    let command = format!(
        "{mcpstorm} run {} {} --report {} -- {mcpstorm} serve",
        if dashboard { "" } else { "--headless" },
        scenario.display(),
        report.display()
    );
    if dashboard {
        let session = format!("mcpstorm-own-cost-{}", std::process::id());
        let started = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "45",
                "-s",
                &session,
                &command,
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(started, "tmux runs the dashboard");
        // The dashboard stays open at the end; wait for the report, then quit.
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds + 60);
        while !report.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_secs(1));
        }
        std::thread::sleep(Duration::from_secs(1));
        let _ = Command::new("tmux")
            .args(["send-keys", "-t", &session, "q"])
            .status();
        std::thread::sleep(Duration::from_secs(1));
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &session])
            .stderr(Stdio::null())
            .status();
    } else {
        let status = Command::new("sh")
            .args(["-c", &command])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mcpstorm runs");
        assert!(status.code().is_some(), "mcpstorm ran to its end");
    }
    let text = std::fs::read_to_string(report).expect("the report is written");
    serde_json::from_str(&text).expect("the report is JSON")
}

fn print_row(mode: &str, report: &Value) {
    let result = &report["scenarios"][0]["result"];
    let series = result["resources"]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let points: Vec<(f64, f64, f64)> = series
        .iter()
        .filter_map(|p| {
            Some((
                p["t_s"].as_f64()?,
                p["self_rss_mb"].as_f64()?,
                p["self_cpu_percent"].as_f64()?,
            ))
        })
        .collect();
    let cpu: Vec<f64> = points.iter().map(|p| p.2).collect();
    let cpu_mean = cpu.iter().sum::<f64>() / cpu.len().max(1) as f64;
    let cpu_max = cpu.iter().copied().fold(0.0, f64::max);
    let rss_first = points.first().map_or(0.0, |p| p.1);
    let rss_last = points.last().map_or(0.0, |p| p.1);
    let rss_max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    // Least-squares slope of RSS over time, from the second minute on (the
    // first fills the histograms and buffers), in MB per hour.
    let steady: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.0 >= 60.0)
        .map(|p| (p.0, p.1))
        .collect();
    let slope = slope(&steady).map_or("—".to_string(), |s| format!("{:+.2} MB/h", s * 3600.0));
    println!(
        "| {mode} | {} | {cpu_mean:.1} % | {cpu_max:.1} % | {rss_first:.1} → {rss_last:.1} MB | {rss_max:.1} MB | {slope} |",
        result["total"]["calls"]
    );
}

fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let variance: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    (variance > 0.0).then(|| covariance / variance)
}
