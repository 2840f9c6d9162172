//! Figures agree with what is known to be true: an injected latency, the open
//! model's schedule, memory held by the `alloc` tool as `/proc` sees it.

mod common;

use common::{f64_at, mcpstorm, run, scenario_file};

fn run_file(text: &str, knobs: &[&str]) -> common::Run {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "s.toml", text);
    let mut args = vec![
        file.to_string_lossy().into_owned(),
        "--".into(),
        mcpstorm().into(),
        "serve".into(),
    ];
    args.extend(knobs.iter().map(|k| k.to_string()));
    run(&args)
}

#[test]
fn a_fixed_latency_is_reported_as_such() {
    let run = run_file(
        r#"
name = "fixed-latency"
[[phase]]
name = "load"
load = { kind = "sequential", calls = 40 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"p50(load) >= 20" = {}
"#,
        &["--latency-ms", "20"],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let latency = &run.scenario("fixed-latency")["result"]["phases"][0]["latency"];
    let p50 = f64_at(latency, "/p50_ms");
    let min = f64_at(latency, "/min_ms");
    // The server sleeps 20 ms; the timer and the pipe add a little, never take away.
    assert!((20.0..=22.5).contains(&p50), "p50 {p50} ms");
    assert!(min >= 20.0, "min {min} ms is below the injected latency");
}

#[test]
fn the_open_model_counts_a_stall_from_the_scheduled_time() {
    // 100 calls/s for 1 s against a server that takes 50 ms per call while
    // answering concurrently: sends stay on schedule, latency is the server's.
    let run = run_file(
        r#"
name = "open"
[[phase]]
name = "load"
load = { kind = "rate", rate = 100, duration_s = 1 }
[[call]]
tool = "sleep"
arguments = { ms = 50 }
[acceptance]
"late_sends(load) <= 3" = {}
"p99(load) < 80" = {}
"#,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let phase = &run.scenario("open")["result"]["phases"][0];
    assert_eq!(f64_at(phase, "/calls"), 100.0);
    assert!(f64_at(phase, "/latency/p50_ms") >= 50.0);
}

#[test]
fn rss_follows_memory_the_server_really_holds() {
    // Each `alloc` call keeps 1024 KB: 60 calls after the warm-up hold 60 MB.
    let run = run_file(
        r#"
name = "alloc"
[[phase]]
name = "warmup"
load = { kind = "sequential", calls = 5 }
[[phase]]
name = "load"
load = { kind = "sequential", calls = 60 }
[[call]]
tool = "alloc"
arguments = { kb = 1024 }
[acceptance]
"rss_growth_mb > 55" = {}
"#,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let resources = &run.scenario("alloc")["result"]["resources"];
    let growth = f64_at(resources, "/rss_growth_mb");
    assert!(
        (58.0..=64.0).contains(&growth),
        "growth {growth} MB for 60 MB held"
    );
    let trend = f64_at(resources, "/rss_trend/kb_per_call");
    assert!(
        (900.0..=1150.0).contains(&trend),
        "trend {trend} KB/call for 1024"
    );
}
