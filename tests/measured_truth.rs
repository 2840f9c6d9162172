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

#[test]
fn a_server_that_stops_answering_times_out_and_the_run_ends_on_time() {
    // Every call takes 2 s; the timeout is 150 ms: all time out, none hang a
    // worker, and the answers that arrive later are counted as late.
    let started = std::time::Instant::now();
    let run = run_file(
        r#"
name = "hang"
timeout_ms = 150
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 4, calls = 8 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"timeouts == 0" = {}
"#,
        &["--latency-ms", "2000"],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let result = &run.scenario("hang")["result"];
    assert_eq!(f64_at(result, "/total/outcomes/timeout"), 8.0);
    // Two rounds of four timeouts, then the server is stopped: well under the
    // 16 s the calls would have taken.
    assert!(
        started.elapsed().as_secs_f64() < 8.0,
        "{:?}",
        started.elapsed()
    );
    let p50 = f64_at(result, "/total/latency/p50_ms");
    assert!(
        (150.0..200.0).contains(&p50),
        "a timeout counts its wait: {p50} ms"
    );
}
