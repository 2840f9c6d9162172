//! A server that writes what it should not: log text on stdout, a line of
//! many megabytes, a flood on stderr. Each is reported and bounded; the run
//! goes on.

mod common;

use common::{f64_at, run, run_against_target};

#[test]
fn log_text_on_stdout_is_counted_and_the_session_goes_on() {
    let run = run_against_target(&["concurrent", "tools"], &["--garbage-every", "10"]);
    let wire = &run.scenario("concurrent")["result"]["wire"];
    // 100 calls: every 10th request also wrote a line of log text.
    assert_eq!(
        f64_at(wire, "/protocol_violations"),
        10.0,
        "{}",
        run.explain()
    );
    let sample = wire["violation_samples"][0].as_str().unwrap_or("");
    assert!(
        sample.contains("not JSON") && sample.contains("[target] handled request"),
        "{sample}"
    );
    // The calls themselves were all answered.
    assert_eq!(run.scenario("concurrent")["verdict"], "PASS");
    // A scenario that judges the wire fails on it.
    assert_eq!(run.criterion("tools", "protocol_violations == 0"), "FAIL");
}

#[test]
fn a_huge_line_is_refused_without_holding_it() {
    let args = [
        "sequential",
        "--max-message-bytes",
        "1048576",
        "--",
        common::mcpstorm(),
        "serve",
        "--huge-line-at",
        "100",
        "--huge-line-mb",
        "64",
    ];
    let run = run(&args);
    assert_eq!(run.code, 0, "{}", run.explain());
    let result = &run.scenario("sequential")["result"];
    assert_eq!(f64_at(result, "/wire/protocol_violations"), 1.0);
    let sample = result["wire"]["violation_samples"][0]
        .as_str()
        .unwrap_or("");
    assert!(
        sample.contains("67108864 bytes exceeds the 1048576-byte limit"),
        "{sample}"
    );
    assert_eq!(f64_at(result, "/total/outcomes/ok"), 1050.0);
    // mcpstorm never held the 64 MB line.
    let own = f64_at(result, "/resources/self_rss_max_mb");
    assert!(own < 40.0, "mcpstorm grew to {own} MB");
}

#[test]
fn a_flood_on_stderr_is_drained_and_only_its_tail_kept() {
    // 1050 requests × 64 KB: 67 MB of stderr, which would stall a server whose
    // stderr is not read within the first 64 KB.
    let run = run_against_target(&["sequential"], &["--stderr-kb", "64"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let result = &run.scenario("sequential")["result"];
    assert!(f64_at(result, "/wire/stderr_lines") > 100_000.0);
    let tail = result["stderr_tail"].as_array().unwrap();
    assert!(
        !tail.is_empty() && tail.len() <= 20,
        "{} lines kept",
        tail.len()
    );
    let own = f64_at(result, "/resources/self_rss_max_mb");
    assert!(own < 40.0, "mcpstorm grew to {own} MB");
}
