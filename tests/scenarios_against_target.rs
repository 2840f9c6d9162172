//! The six built-in scenarios against the built-in target, healthy and with
//! each fault injected: every fault must fail the criterion that watches for
//! it, and only sensible ones.

mod common;

use common::{f64_at, run_against_target};
use serde_json::Value;

const ALL: [&str; 6] = [
    "sequential",
    "concurrent",
    "memory-leak",
    "latency-stability",
    "mixed",
    "coldstart",
];

#[test]
fn all_six_pass_against_a_healthy_server() {
    let run = run_against_target(&ALL, &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let report = run.report();
    assert_eq!(report["verdict"], "PASS");
    for name in ALL {
        let scenario = run.scenario(name);
        assert_eq!(scenario["verdict"], "PASS", "{name}: {}", run.explain());
        let result = &scenario["result"];
        assert!(f64_at(result, "/total/calls") > 0.0, "{name} made no calls");
        assert!(result["criteria"].as_array().is_some_and(|c| !c.is_empty()));
    }
    // Volumes are the reference suite's.
    assert_eq!(
        f64_at(run.scenario("sequential"), "/result/phases/1/calls"),
        1000.0
    );
    assert_eq!(
        f64_at(run.scenario("concurrent"), "/result/total/calls"),
        100.0
    );
    assert_eq!(
        f64_at(run.scenario("memory-leak"), "/result/phases/1/calls"),
        500.0
    );
    assert_eq!(
        f64_at(run.scenario("latency-stability"), "/result/phases/0/calls"),
        50.0
    );
    assert_eq!(f64_at(run.scenario("mixed"), "/result/total/calls"), 300.0);
    assert_eq!(
        f64_at(run.scenario("coldstart"), "/result/coldstart/iterations"),
        100.0
    );
    // Per-tool latency is reported for the mixed workload.
    let labels = run.scenario("mixed")["result"]["per_label"]
        .as_array()
        .unwrap()
        .len();
    assert!(labels >= 8, "{labels} labels");
    // Server-side figures come from a real process.
    let resources = &run.scenario("sequential")["result"]["resources"];
    assert!(f64_at(resources, "/rss_current_mb") > 1.0);
    assert!(f64_at(resources, "/fds_max") >= 3.0);
}

#[test]
fn a_memory_leak_fails_the_rss_criteria_and_its_trend_is_measured() {
    let run = run_against_target(&["memory-leak"], &["--leak-kb", "200"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.criterion("memory-leak", "rss_growth_mb <= 50"), "FAIL");
    assert_eq!(
        run.criterion("memory-leak", "rss_trend_mb_per_1k_calls <= 50"),
        "FAIL"
    );
    assert_eq!(run.criterion("memory-leak", "fd_max < 256"), "PASS");
    assert_eq!(run.criterion("memory-leak", "crashes == 0"), "PASS");
    // Measured truth: 200 KB kept per call, and the trend says so within ±20 %.
    let trend = f64_at(
        run.scenario("memory-leak"),
        "/result/resources/rss_trend/kb_per_call",
    );
    assert!((160.0..=240.0).contains(&trend), "trend {trend} KB/call");
    // 500 calls × 200 KB ≈ 97.7 MB of growth after the warm-up.
    let growth = f64_at(
        run.scenario("memory-leak"),
        "/result/resources/rss_growth_mb",
    );
    assert!((85.0..=110.0).contains(&growth), "growth {growth} MB");
}

#[test]
fn the_trend_tracks_a_small_leak_too() {
    let run = run_against_target(&["sequential"], &["--leak-kb", "40"]);
    let trend = f64_at(
        run.scenario("sequential"),
        "/result/resources/rss_trend/kb_per_call",
    );
    assert!(
        (32.0..=48.0).contains(&trend),
        "trend {trend} KB/call: {}",
        run.explain()
    );
    // 1000 calls × 40 KB ≈ 39 MB: within the 50 MB the reference test allows.
    assert_eq!(run.criterion("sequential", "rss_growth_mb <= 50"), "PASS");
}

#[test]
fn an_fd_leak_fails_the_fd_criterion_only() {
    let run = run_against_target(&["memory-leak"], &["--leak-fds", "1"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.failed("memory-leak"), vec!["fd_max < 256"]);
    // 550 calls, one FD each, on top of the server's own handful.
    let fds = f64_at(run.scenario("memory-leak"), "/result/resources/fds_max");
    assert!((550.0..600.0).contains(&fds), "fd_max {fds}");
}

#[test]
fn a_slowdown_fails_the_p95_ratio_only() {
    let run = run_against_target(
        &["latency-stability"],
        &["--slowdown-after", "50", "--slowdown-ms", "0.2"],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(
        run.failed("latency-stability"),
        vec!["p95(load) <= max(2 * p95(warmup), p95(warmup) + 10)"]
    );
}

#[test]
fn the_leak_hunt_names_the_one_tool_that_leaks() {
    // Of the built-in server's read-only tools, only `add` keeps memory:
    // 16 KB a call.
    let run = run_against_target(&["leak-hunt"], &["--leak-kb-tool", "add:16"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let result = &run.scenario("leak-hunt")["result"];
    let worst = result["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["expression"] == "rss_kb_per_call_worst <= 1")
        .expect("the worst-tool criterion");
    assert_eq!(worst["state"], "FAIL", "{worst}");
    assert!(
        worst["detail"].as_str().unwrap().contains("(add)"),
        "{worst}"
    );
    common::assert_retained(result, "add", 16.0, 3);
}

/// The attribution's resolution of memory, KB a call (`attribution::MEMORY`).
const RESOLUTION_KB: f64 = 0.5;

#[test]
fn the_leak_hunt_names_a_1_kb_leak_under_a_40_mb_sawtooth() {
    // 64 KB of garbage a call, collected every 40 MB (640 calls, 3.2 s),
    // over `add` keeping 1 KB. On a quiet machine `add` reads 0.9–1.1; on
    // one this busy (the other tests, and whatever else runs) the probe runs
    // late and the troughs blur, so what is asserted is what load cannot
    // change: every tool's figure is given, and its interval, widened by
    // half or by the resolution (half a KB a call), holds the truth (a
    // late trough at a turn's edge moves a few tenths of a KB a call from
    // one tool to its neighbour: echo once read -0.33, -0.44 to -0.23, on a
    // machine compiling beside the suite); no clean tool is named; where
    // `add` is surely above the resolution it is the most.
    let run = run_against_target(
        &["leak-hunt"],
        &[
            "--sawtooth-mb",
            "40",
            "--sawtooth-kb-per-call",
            "64",
            "--leak-kb-tool",
            "add:1",
        ],
    );
    let result = &run.scenario("leak-hunt")["result"];
    let by_label = result["resources"]["retained_by_label"]
        .as_array()
        .unwrap_or_else(|| panic!("no attribution: {}", result["resources"]));
    assert_eq!(by_label.len(), 3, "{}", result["resources"]);
    let kb = |entry: &Value| f64_at(entry, "/kb_per_call");
    let add = by_label
        .iter()
        .find(|l| l["label"] == "add")
        .unwrap_or_else(|| panic!("no figure for add: {by_label:?}"));
    let add_named = f64_at(add, "/kb_per_call_low") > RESOLUTION_KB;
    for entry in by_label {
        let truth = if entry["label"] == "add" { 1.0 } else { 0.0 };
        let (low, high) = (
            f64_at(entry, "/kb_per_call_low"),
            f64_at(entry, "/kb_per_call_high"),
        );
        let margin = ((high - low) / 4.0).max(RESOLUTION_KB);
        assert!(
            low - margin <= truth && truth <= high + margin,
            "{entry}: the truth is {truth} KB a call"
        );
        if entry["label"] != "add" {
            assert!(
                f64_at(entry, "/kb_per_call_low") <= RESOLUTION_KB,
                "{by_label:?}"
            );
            if add_named {
                assert!(kb(entry) < kb(add), "{by_label:?}");
            }
        }
    }
}

#[test]
fn the_leak_hunt_raises_no_alarm_on_a_sawtooth() {
    let run = run_against_target(&["leak-hunt"], &["--sawtooth-mb", "40"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let state = run.criterion("leak-hunt", "rss_kb_per_call_worst <= 1");
    assert!(state == "PASS" || state == "NOT_MEASURED", "{state}");
}

#[test]
fn a_sawtooth_fails_no_memory_criterion() {
    let run = run_against_target(&["memory-leak", "sequential"], &["--sawtooth-mb", "40"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    // The sawtooth really happened: RSS rose by tens of MB and fell back.
    let resources = &run.scenario("sequential")["result"]["resources"];
    let swing = f64_at(resources, "/rss_max_mb") - f64_at(resources, "/rss_baseline_mb");
    assert!(swing > 15.0, "no sawtooth seen: swing {swing} MB");
    let collections = f64_at(resources, "/rss_trend/collections");
    assert!(collections >= 3.0, "{collections} collections");
    let trend = f64_at(resources, "/rss_trend/kb_per_call");
    assert!(
        trend.abs() < 5.0,
        "sawtooth read as a leak: {trend} KB/call"
    );
}

#[test]
fn a_five_percent_failure_rate_fails_the_success_criteria() {
    let run = run_against_target(
        &["concurrent", "latency-stability"],
        &["--fail-rate", "0.05"],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.failed("concurrent"), vec!["success_rate == 1"]);
    // The latency criterion is about timing, which a machine under load can
    // disturb; the failure rate is what this test injects.
    assert!(
        run.failed("latency-stability")
            .contains(&"success_rate >= 0.99".to_string()),
        "{}",
        run.explain()
    );
    let rate = f64_at(
        run.criterion_value("latency-stability", "success_rate >= 0.99"),
        "/value",
    );
    assert!((rate - 0.95).abs() < 0.002, "success rate {rate}");
    let tool_errors = f64_at(
        run.scenario("concurrent"),
        "/result/total/outcomes/tool_error",
    );
    assert_eq!(tool_errors, 5.0);
}

#[test]
fn a_crash_fails_the_crash_criterion_and_the_report_is_still_written() {
    // 302 requests are answered: in sequential, the tools/list that checks
    // the scenario's tools and 301 calls; in mixed, that tools/list, the
    // prompts/list that checks its prompt, and its 300 calls.
    let run = run_against_target(&["sequential", "mixed"], &["--crash-after", "302"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.criterion("sequential", "crashes == 0"), "FAIL");
    let sequential = run.scenario("sequential");
    assert_eq!(sequential["verdict"], "FAIL");
    assert!(
        sequential["incomplete"]
            .as_str()
            .is_some_and(|s| s.contains("crashed"))
    );
    let result = &sequential["result"];
    // 301 answered, then the call in flight at the crash is a transport error.
    assert_eq!(f64_at(result, "/total/outcomes/ok"), 301.0);
    assert!(f64_at(result, "/total/outcomes/transport_error") >= 1.0);
    let notes = result["notes"].to_string();
    assert!(notes.contains("exit code 70"), "{notes}");
    assert!(
        notes.contains("--crash-after"),
        "the server's stderr is quoted: {notes}"
    );
    // The next scenario gets a fresh server: its 302 requests are all answered.
    assert_eq!(run.scenario("mixed")["verdict"], "PASS");
}

#[test]
fn notifications_are_counted_and_never_taken_for_responses() {
    let run = run_against_target(&["concurrent"], &["--log-every", "10"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let wire = &run.scenario("concurrent")["result"]["wire"];
    assert_eq!(f64_at(wire, "/notifications"), 10.0);
    assert_eq!(f64_at(wire, "/correlation_violations"), 0.0);
    assert_eq!(
        f64_at(wire, "/responses"),
        102.0,
        "100 calls, initialize, and the tools/list that checks the scenario's tools"
    );
}

#[test]
fn mixed_up_contents_are_caught_as_correlation_violations() {
    let run = run_against_target(&["concurrent"], &["--mixup-every", "10"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let wire = &run.scenario("concurrent")["result"]["wire"];
    assert_eq!(f64_at(wire, "/mixups"), 10.0);
    assert_eq!(f64_at(wire, "/correlation_violations"), 10.0);
    assert_eq!(
        run.failed("concurrent"),
        vec!["success_rate == 1", "correlation_violations == 0"]
    );
}

#[test]
fn a_wrong_expect_text_is_unexpected_content_not_a_mix_up() {
    // Every answer fails an expect_text that does not fit it: that is
    // unexpected content (protocol errors), not 100 "mixed-up responses"
    // counted as correlation violations.
    let run = common::run_text_against_target(
        r#"
name = "wrong-expect"
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 4, calls = 100 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
expect_text = "bye {seq}"
[acceptance]
"success_rate == 1" = {}
"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let result = &run.scenario("wrong-expect")["result"];
    assert_eq!(f64_at(result, "/wire/mixups"), 0.0);
    assert_eq!(f64_at(result, "/wire/correlation_violations"), 0.0);
    assert_eq!(f64_at(result, "/total/outcomes/protocol_error"), 100.0);
    let errors = result["recent_errors"].to_string();
    assert!(errors.contains("unexpected content"), "{errors}");
}

#[test]
fn cold_starts_answered_with_an_error_are_still_timed() {
    // Every server started and answered, though with an error: its timings
    // used to be thrown away ("3 failed · mean 0.000 ms").
    let run = common::run_text_against_target(
        r#"
name = "cold-errors"
[[phase]]
name = "cold"
load = { kind = "coldstart", iterations = 3 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"coldstart_mean_ms > 0" = {}
"#,
        &["--fail-rate", "1"],
    );
    let cold = &run.scenario("cold-errors")["result"]["coldstart"];
    assert_eq!(f64_at(cold, "/iterations"), 3.0, "{cold}");
    assert_eq!(f64_at(cold, "/failed"), 3.0, "{cold}");
    assert!(f64_at(cold, "/mean_ms") > 0.0, "{cold}");
    assert!(f64_at(cold, "/stage_means/spawn_ms") > 0.0, "{cold}");
}

#[test]
fn runs_whose_calls_mostly_fail_fail_and_say_so() {
    // memory-leak passed with 12.6 % of its calls ok (it judged no success),
    // and tools with 360 of 450 tool errors.
    let run = run_against_target(&["memory-leak", "tools"], &["--fail-rate", "1"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(
        run.criterion("memory-leak", "success_rate(load) >= 0.99"),
        "FAIL"
    );
    assert_eq!(
        run.criterion("tools", "min_success_rate_per_label > 0"),
        "FAIL"
    );
    assert!(run.stdout.contains("most calls failed"), "{}", run.stdout);
    assert!(run.stdout.contains("never succeeded: "), "{}", run.stdout);
}

#[test]
fn duplicate_and_stray_responses_are_counted_not_crashed_on() {
    let run = run_against_target(
        &["concurrent"],
        &["--duplicate-every", "20", "--stray-every", "25"],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let wire = &run.scenario("concurrent")["result"]["wire"];
    // 100 requests: every 20th answered twice, every 25th followed by a stray.
    assert_eq!(f64_at(wire, "/duplicate_ids"), 5.0);
    assert_eq!(f64_at(wire, "/unknown_ids"), 4.0);
    // Every call still got its own answer.
    assert_eq!(
        run.failed("concurrent"),
        vec!["correlation_violations == 0"]
    );
}

#[test]
fn a_leak_smaller_than_a_page_is_measured_exactly() {
    // 2 KB per call is half a page: the target must keep exactly that, and the
    // trend must say so (a page per call would read as 4 KB).
    let run = run_against_target(&["sequential"], &["--leak-kb", "2"]);
    let trend = f64_at(
        run.scenario("sequential"),
        "/result/resources/rss_trend/kb_per_call",
    );
    assert!(
        (1.6..=2.4).contains(&trend),
        "trend {trend} KB/call: {}",
        run.explain()
    );
}

/// The scenario for the cancellation tests: 3 calls of a second each, given
/// up on after 300 ms.
const GIVEN_UP: &str = r#"
name = "given-up"
timeout_ms = 300
[[phase]]
name = "load"
load = { kind = "sequential", calls = 3 }
[[call]]
tool = "sleep"
arguments = { ms = 1000 }
[acceptance]
"calls == 3" = {}
"#;

/// The target's own record: its stderr lines saying what it was told.
fn cancellations_logged(result: &serde_json::Value) -> Vec<String> {
    result["stderr_tail"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|line| line.as_str())
        .filter(|line| line.contains("cancelled by the client"))
        .map(String::from)
        .collect()
}

#[test]
fn calls_that_time_out_are_cancelled_as_the_transport_asks() {
    // Over stdio there is no stream to close: the client MUST send
    // notifications/cancelled for a request it gives up on. None was sent.
    let run = common::run_text_against_target(GIVEN_UP, &[]);
    let result = &run.scenario("given-up")["result"];
    assert_eq!(
        f64_at(result, "/total/outcomes/timeout"),
        3.0,
        "{}",
        run.explain()
    );
    assert_eq!(f64_at(result, "/wire/cancellations_sent"), 3.0);
    let logged = cancellations_logged(result);
    assert_eq!(logged.len(), 3, "the server was told of each: {logged:?}");
    assert!(
        logged[0].contains("no response within 300 ms"),
        "{logged:?}"
    );
    assert!(
        run.stdout
            .contains("notifications/cancelled sent for 3 call(s)")
    );

    // Over HTTP in the handshake era a disconnect is not a cancellation:
    // the notification is POSTed. In the stateless era the closed connection
    // is the signal, and nothing is sent.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = common::scenario_file(dir.path(), "given-up.toml", GIVEN_UP);
    for (era, expected) in [("handshake", 3.0), ("stateless", 0.0)] {
        let server = format!(
            "{} serve --http 127.0.0.1:0 --era {era}",
            common::mcpstorm()
        );
        let run = common::run(&[file.to_str().unwrap_or_default(), "--server-cmd", &server]);
        let result = &run.scenario("given-up")["result"];
        assert_eq!(
            f64_at(result, "/wire/cancellations_sent"),
            expected,
            "{era}: {}",
            run.explain()
        );
        assert_eq!(
            cancellations_logged(result).len() as f64,
            expected,
            "{era}: {}",
            run.explain()
        );
    }
}

#[test]
fn padded_arguments_reach_the_server_at_their_size() {
    // `{pad:N}` writes N characters: the fragile target crashes on a request
    // over 1 MiB, and only then — its own measure of what it was sent.
    let scenario = |pad: u64| {
        format!(
            "name = \"padded\"\n[[phase]]\nname = \"load\"\nload = {{ kind = \"sequential\", calls = 3 }}\n\
             [[call]]\ntool = \"echo\"\narguments = {{ message = \"{{pad:{pad}}}\" }}\n\
             [acceptance]\n\"crashes == 0\" = {{}}\n"
        )
    };
    let small = common::run_text_against_target(&scenario(1_000_000), &["--fragile"]);
    assert_eq!(small.code, 0, "{}", small.explain());
    let large = common::run_text_against_target(&scenario(1_100_000), &["--fragile"]);
    assert_eq!(
        large.failed("padded"),
        vec!["crashes == 0"],
        "{}",
        large.explain()
    );
}

#[test]
fn a_criterion_says_why_it_matters_in_the_scenario_s_words_escaped() {
    // `{ about = "…" }` was parsed and dropped.
    let run = common::run_text_against_target(
        r#"
name = "about"
[[phase]]
name = "load"
load = { kind = "sequential", calls = 5 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"success_rate == 1" = { about = "echo must always work \u001b[2J" }
"#,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let about = &run.criterion_value("about", "success_rate == 1")["about"];
    assert_eq!(about, "echo must always work \u{1b}[2J");
    assert!(
        run.stdout.contains("(echo must always work \\u{1b}[2J)"),
        "shown, escaped: {}",
        run.stdout
    );
}
