//! Servers that try to break mcpstorm: each must end as a clear setup error
//! or a reported failure, with the report written and no process left
//! behind, whatever the server says. The servers are small scripts in
//! tests/hostile/, spoken to over real pipes and sockets.

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::{assert_nothing_left, mcpstorm, run};

fn hostile(script: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hostile")
        .join(script)
        .to_string_lossy()
        .into_owned()
}

/// A word no other process has in its command line, so that the test can
/// look for the server it started once mcpstorm is done.
fn marker(test: &str) -> String {
    format!("marker-{test}-{}", std::process::id())
}

/// What a run that could not agree with the discover-loop server must say.
fn assert_no_agreement(code: i32, said: &str) {
    assert_eq!(code, 2, "a setup error: {said}");
    assert!(said.contains("server/discover"), "{said}");
    assert!(said.contains("-32022"), "what the server said: {said}");
    assert!(said.contains("2026-07-28"), "{said}");
}

#[test]
fn a_server_that_refuses_every_revision_it_names_is_a_setup_error() {
    // It answers server/discover with -32022, naming 2026-07-28 as supported,
    // every time, including when asked in 2026-07-28: asking again for ever
    // overflowed the stack (SIGABRT, no report).
    let marker = marker("discover-loop");
    let script = hostile("discover_loop.py");
    for extra in [&[][..], &["--protocol", "2026-07-28"][..]] {
        let mut args: Vec<&str> = vec!["concurrent"];
        args.extend(extra);
        args.extend(["--", "python3", &script, &marker]);
        let run = run(&args);
        assert_no_agreement(run.code, &run.explain());
        let scenario = run.scenario("concurrent");
        assert!(
            scenario["error"]
                .as_str()
                .is_some_and(|e| e.contains("-32022")),
            "the report says why: {scenario}"
        );
        assert_nothing_left(&marker);
    }
}

#[test]
fn discover_against_a_server_that_refuses_every_revision_says_so() {
    let marker = marker("discover-cmd");
    let output = Command::new(mcpstorm())
        .args([
            "discover",
            "--",
            "python3",
            &hostile("discover_loop.py"),
            &marker,
        ])
        .output()
        .expect("mcpstorm runs");
    let said = common::said(&output);
    assert_no_agreement(output.status.code().unwrap_or(-1), &said);
    assert_nothing_left(&marker);
}

#[test]
fn the_same_over_http() {
    let marker = marker("discover-http");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let server = format!(
        "python3 {} http {port} {marker}",
        hostile("discover_loop.py")
    );
    let url = format!("http://127.0.0.1:{port}/mcp");
    let run = run(&["concurrent", "--url", &url, "--server-cmd", &server]);
    assert_no_agreement(run.code, &run.explain());
    assert_nothing_left(&marker);
}

/// A `sleep` whose duration is unique to this test, so that `pgrep -f` finds
/// it alone.
fn unique_sleep(base: u32) -> String {
    format!("sleep {base}.{}", std::process::id())
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_when_the_server_exits() {
    // The server exits politely when its stdin closes, but leaves a child in
    // its process group that ignores SIGTERM: it used to get SIGTERM only,
    // and stayed.
    let sleep = unique_sleep(300);
    let script = format!("(trap '' TERM; exec {sleep}) & exec {} serve", mcpstorm());
    let run = run(&["concurrent", "--", "sh", "-c", &script]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_nothing_left(&sleep);
}

#[test]
fn the_children_of_a_crashed_server_are_stopped() {
    // The server crashes mid-run; its child, re-parented once the server is
    // gone, can no longer be found from it, but is still in its group. The
    // child holds the server's stdout open: the crash used to be seen only
    // when the call in flight timed out (30 s). The exit itself ends the
    // call, as a transport error.
    let sleep = unique_sleep(301);
    let script = format!("{sleep} & exec {} serve --crash-after 20", mcpstorm());
    let run = run(&["sequential", "--", "sh", "-c", &script]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.criterion("sequential", "crashes == 0"), "FAIL");
    let outcomes = &run.scenario("sequential")["result"]["total"]["outcomes"];
    assert_eq!(outcomes["timeout"], 0, "{outcomes}");
    assert_eq!(outcomes["transport_error"], 1, "{outcomes}");
    assert_nothing_left(&sleep);
}

/// Twenty echo calls, one at a time; a short timeout, for the servers that
/// stop answering.
const TWENTY_CALLS: &str = r#"
name = "twenty"
[[phase]]
name = "load"
load = { kind = "sequential", calls = 20 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"success_rate == 1" = {}
"#;

/// The largest mcpstorm may grow against a server that floods it (the
/// kernel's count, which also covers the server): 15 MB on its own, 25–35
/// against these servers; it reached 95–190 MB when it kept what they sent.
const PEAK_RSS_MB: f64 = 80.0;

/// Run TWENTY_CALLS against `flood.py MODE MB`; the run, mcpstorm's peak RSS,
/// and the report's size.
fn flooded(mode: &str, mb: &str, extra: &[&str]) -> (common::Run, f64, usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = common::scenario_file(dir.path(), "twenty.toml", TWENTY_CALLS);
    let scenario = scenario.to_string_lossy().into_owned();
    let marker = marker(mode);
    let mut args: Vec<&str> = vec![&scenario];
    args.extend(extra);
    let script = hostile("flood.py");
    args.extend(["--", "python3", &script, mode, mb, &marker]);
    let (run, peak) = common::run_with_peak_rss(&args);
    let report_bytes = serde_json::to_vec(run.report()).map_or(0, |b| b.len());
    assert_nothing_left(&marker);
    (run, peak, report_bytes)
}

#[test]
fn huge_stray_responses_are_sampled_not_kept() {
    // 20 responses of 3 MB each, with a null id or a 3 MB string id: each
    // was kept whole as a sample and copied into every snapshot (a 25 MB
    // report here; 1.5 GB of RSS and a 250 MB report for 30 MB ones).
    for (mode, counted) in [("null-id", "missing_ids"), ("string-id", "unknown_ids")] {
        let (run, peak, report_bytes) = flooded(mode, "3", &[]);
        assert_eq!(run.code, 0, "{mode}: {}", run.explain());
        let wire = &run.scenario("twenty")["result"]["wire"];
        assert_eq!(wire[counted], 20, "{mode}: {wire}");
        assert!(
            peak < PEAK_RSS_MB,
            "{mode}: mcpstorm peaked at {peak:.0} MB"
        );
        assert!(
            report_bytes < 200_000,
            "{mode}: a {report_bytes}-byte report"
        );
        let samples = wire["violation_samples"].to_string();
        assert!(
            samples.contains("bytes in all"),
            "{mode}: cut, with its size: {samples}"
        );
    }
}

#[test]
fn a_server_flooding_pings_without_reading_meets_backpressure() {
    // At the first call it stops reading stdin and sends 400 MB of pings
    // with kilobyte ids: the answers queued without limit (2.5 GB in 6 s). Now mcpstorm stops
    // reading while its answers wait; the server, blocked, answers nothing
    // more, and the calls time out.
    let (run, peak, _) = flooded("ping-flood", "400", &["--timeout-ms", "300"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(peak < PEAK_RSS_MB, "mcpstorm peaked at {peak:.0} MB");
}

/// Whether `text` holds a control character a terminal would obey.
fn obeyable(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[test]
fn terminal_escapes_from_a_server_are_shown_not_obeyed() {
    // Its name, version, error messages and stderr carry escapes that clear
    // the screen, set the window title and write the clipboard (OSC 52):
    // they reached the terminal raw through the summary.
    let (run, _, _) = flooded("escapes", "0", &[]);
    assert_eq!(run.code, 1, "every call fails: {}", run.explain());
    assert!(!obeyable(&run.stdout), "stdout: {:?}", run.stdout);
    assert!(!obeyable(&run.stderr), "stderr: {:?}", run.stderr);
    assert!(
        run.stdout.contains("flood\\u{1b}[2J"),
        "shown escaped: {}",
        run.stdout
    );
    let report = serde_json::to_string(run.report()).unwrap_or_default();
    assert!(
        !report.contains("\\u001b"),
        "the report keeps no raw escape"
    );

    // A tool named with escapes, called by an automatic mix: its label in
    // the summary (per tool) is shown escaped too.
    let tools_marker = marker("escapes-tools");
    let run = common::run(&[
        "tools",
        "--",
        "python3",
        &hostile("flood.py"),
        "escapes",
        "0",
        &tools_marker,
    ]);
    assert!(run.stdout.contains("echo\\u{1b}[2J"), "{}", run.stdout);
    assert!(
        !obeyable(&run.stdout) && !obeyable(&run.stderr),
        "{:?}",
        run.stdout
    );
    assert_nothing_left(&tools_marker);

    let marker = marker("escapes-discover");
    let output = Command::new(mcpstorm())
        .args([
            "discover",
            "--",
            "python3",
            &hostile("flood.py"),
            "escapes",
            "0",
            &marker,
        ])
        .output()
        .expect("mcpstorm runs");
    let said = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(!obeyable(&said), "discover: {said:?}");
    assert_nothing_left(&marker);
}

#[test]
fn tools_whose_schemas_cannot_be_met_are_skipped_and_named() {
    // A 2,000,000-character minLength made argument generation quadratic
    // (a hang that ignored Ctrl-C); 16 arrays of 16 arrays … grew to
    // gigabytes. Each such tool is now left out, saying why; the rest run.
    let marker = marker("schemas");
    let script = hostile("flood.py");
    let run = common::run_within(
        Some(std::time::Duration::from_secs(120)),
        &["tools", "--", "python3", &script, "schemas", "0", &marker],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let notes = run.scenario("tools")["result"]["notes"].to_string();
    for (tool, why) in [
        ("essay", "minLength 2000000"),
        ("grid", "its schema nests deeper"),
        ("chain", "deeper than 12"),
    ] {
        assert!(
            notes.contains(&format!("tool {tool} is not called")) && notes.contains(why),
            "{tool}: {notes}"
        );
    }
    let per_tool = run.scenario("tools")["result"]["per_label"].to_string();
    assert!(per_tool.contains("echo"), "{per_tool}");
    assert!(!per_tool.contains("essay"), "{per_tool}");
    assert_nothing_left(&marker);

    let output = Command::new(mcpstorm())
        .args([
            "discover", "--", "python3", &script, "schemas", "0", &marker,
        ])
        .output()
        .expect("mcpstorm runs");
    let said = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(said.contains("not called by an automatic mix"), "{said}");
    assert_nothing_left(&marker);
}

#[test]
fn a_server_that_answers_nothing_is_given_up_on() {
    // Every call times out: the run used to go on for as long as the
    // scenario lasted (hours, for a soak). By default it stops after 50
    // calls in a row got no answer, and says so; a scenario can set the
    // number (0: never).
    let stall = format!("--stall-ms 7{}", std::process::id());
    let (flag, value) = stall.split_once(' ').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(
        dir.path(),
        "hour.toml",
        r#"
name = "hour"
timeout_ms = 20
abort_after_consecutive_failures = 30
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 4, duration_s = 3600 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"success_rate == 1" = {}
"#,
    );
    let scenario = scenario.to_string_lossy().into_owned();
    let run = common::run_within(
        Some(std::time::Duration::from_secs(120)),
        &[
            &scenario,
            "--",
            mcpstorm(),
            "serve",
            "--stall-at",
            "10",
            flag,
            value,
        ],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let result = run.scenario("hour");
    let incomplete = result["incomplete"].as_str().unwrap_or_default();
    assert!(
        incomplete.contains("30 calls in a row got no answer"),
        "{incomplete}"
    );
    let timeouts = result["result"]["total"]["outcomes"]["timeout"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        (30..60).contains(&timeouts),
        "stopped soon after 30: {timeouts}"
    );
    assert!(
        run.stdout.contains("abort_after_consecutive_failures"),
        "{}",
        run.stdout
    );
    assert_nothing_left(&stall);
}

#[test]
fn a_server_killed_by_sigsegv_is_a_crash_and_nothing_more() {
    // It was also said "not to exit within 2s of its stdin closing", as if
    // mcpstorm had had to kill it.
    let marker = marker("segv");
    let run = run(&[
        "sequential",
        "--",
        "python3",
        &hostile("flood.py"),
        "segv",
        "30",
        &marker,
    ]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let notes = run.scenario("sequential")["result"]["notes"].to_string();
    assert!(
        notes.contains("server exited mid-run (killed by signal 11)"),
        "{notes}"
    );
    assert!(!notes.contains("did not exit"), "{notes}");
    assert_nothing_left(&marker);
}

#[test]
fn a_crashed_server_is_not_read_as_an_empty_one() {
    // Its dead process used to read as 0 MB: the growth went negative and a
    // leaking server that crashed passed the memory criterion.
    let run = common::run_against_target(
        &["sequential"],
        &["--leak-kb", "100", "--crash-after", "400"],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let resources = &run.scenario("sequential")["result"]["resources"];
    let current = common::f64_at(resources, "/rss_current_mb");
    let growth = common::f64_at(resources, "/rss_growth_mb");
    assert!(current > 10.0, "the last live reading is kept: {current}");
    // 350 calls × 100 KB after the warm-up: about 34 MB.
    assert!((25.0..45.0).contains(&growth), "growth {growth}");
    let series = resources["series"].as_array().expect("a series");
    assert!(
        series
            .iter()
            .all(|p| p["rss_mb"].as_f64().unwrap_or(0.0) > 0.0),
        "no zero reading in the series"
    );
}

#[test]
fn an_answer_too_deep_to_read_is_a_protocol_error_at_once() {
    // Nested 200 levels, past serde_json's 128. A result that deep was read
    // as empty and counted as a mixed-up response; an error that deep was
    // taken for garbage, and its call waited for the timeout. Both end their
    // call at once as a protocol error (the error's id found by scanning).
    for mode in ["deep", "deep-error"] {
        let marker = marker(mode);
        let run = common::run(&[
            "concurrent",
            "--timeout-ms",
            "30000",
            "--",
            "python3",
            &hostile("flood.py"),
            mode,
            "0",
            &marker,
        ]);
        assert_eq!(run.code, 1, "{mode}: {}", run.explain());
        let result = &run.scenario("concurrent")["result"];
        let outcomes = &result["total"]["outcomes"];
        assert_eq!(outcomes["protocol_error"], 100, "{mode}: {outcomes}");
        assert_eq!(outcomes["timeout"], 0, "{mode}: {outcomes}");
        assert_eq!(result["wire"]["mixups"], 0, "{mode}: {}", result["wire"]);
        let errors = result["recent_errors"].to_string();
        assert!(errors.contains("nested deeper than"), "{mode}: {errors}");
        assert_nothing_left(&marker);
    }
}

#[test]
fn a_huge_protocol_version_is_quoted_in_part() {
    // A 20 MB protocolVersion was quoted whole in the setup error.
    let marker = marker("huge-version");
    let (run, peak) = common::run_with_peak_rss(&[
        "sequential",
        "--protocol",
        "2025-06-18",
        "--",
        "python3",
        &hostile("flood.py"),
        "huge-version",
        "20",
        &marker,
    ]);
    assert_eq!(run.code, 2, "{}", &run.stdout[..run.stdout.len().min(2000)]);
    assert!(
        run.stdout.len() + run.stderr.len() < 10_000,
        "{} bytes said",
        run.stdout.len()
    );
    assert!(run.stdout.contains("bytes in all"), "{}", run.stdout);
    assert!(peak < PEAK_RSS_MB * 2.0, "mcpstorm peaked at {peak:.0} MB");
    assert_nothing_left(&marker);
}

#[test]
fn a_server_that_ignores_the_probe_costs_under_a_second_and_cold_starts_do_not_pay_it() {
    // It answers initialize but nothing to server/discover: the probe used
    // to wait the whole timeout at every start (a cold start read "30006 ms"
    // and passed). Now initialize follows within half a second, and the cold
    // starts speak the revision learnt once, untimed.
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = common::scenario_file(
        dir.path(),
        "cold.toml",
        r#"
name = "cold"
[[phase]]
name = "cold"
load = { kind = "coldstart", iterations = 3 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"success_rate == 1" = {}
"#,
    );
    let scenario = scenario.to_string_lossy().into_owned();
    let marker = marker("ignore-discover");
    let script = hostile("flood.py");
    let run = common::run(&[
        "sequential",
        &scenario,
        "--",
        "python3",
        &script,
        "ignore-discover",
        "0",
        &marker,
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    // The probe would have cost 15 s (half the 30 s handshake budget).
    assert!(run.wall.as_secs_f64() < 12.0, "took {:?}", run.wall);
    let cold = &run.scenario("cold")["result"];
    let mean = common::f64_at(cold, "/coldstart/mean_ms");
    assert!(mean < 5_000.0, "a cold start read {mean} ms");
    assert!(
        cold["notes"].to_string().contains("learnt from one start"),
        "{}",
        cold["notes"]
    );
    assert_eq!(
        run.scenario("sequential")["result"]["server"]["protocol_version"],
        "2025-06-18"
    );
    assert_nothing_left(&marker);
}

#[test]
fn protocol_x_means_exactly_x() {
    // Asked for 2025-03-26, the server answers 2025-06-18 (which mcpstorm
    // also speaks): that is not what was asked for, and used to be taken.
    let marker = marker("exact-protocol");
    let run = common::run(&[
        "sequential",
        "--protocol",
        "2025-03-26",
        "--",
        "python3",
        &hostile("flood.py"),
        "plain",
        "0",
        &marker,
    ]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stdout.contains("2025-03-26") && run.stdout.contains("2025-06-18"),
        "{}",
        run.stdout
    );
    assert_nothing_left(&marker);
}

#[test]
fn tools_that_reach_out_are_never_called_automatically() {
    // The tools scenario sent 450 calls to a fetch server, each fetching a
    // public web page. A read-only tool annotated openWorldHint or
    // destructiveHint is left out (this server exits if one is called).
    let marker = marker("open-world");
    let script = hostile("flood.py");
    let run = common::run(&[
        "tools",
        "--",
        "python3",
        &script,
        "open-world",
        "0",
        &marker,
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let per_tool = run.scenario("tools")["result"]["per_label"].to_string();
    assert!(per_tool.contains("echo"), "{per_tool}");
    assert!(
        !per_tool.contains("fetch") && !per_tool.contains("wipe"),
        "{per_tool}"
    );
    let output = Command::new(mcpstorm())
        .args([
            "discover",
            "--",
            "python3",
            &script,
            "open-world",
            "0",
            &marker,
        ])
        .output()
        .expect("mcpstorm runs");
    let said = common::said(&output);
    assert!(
        said.contains("openWorldHint=true") && said.contains("destructiveHint=true"),
        "{said}"
    );
    assert!(said.contains("never called automatically"), "{said}");
    assert_nothing_left(&marker);
}

#[test]
fn a_server_that_must_be_killed_to_stop_fails_forced_stops() {
    // It stays when its stdin closes and ignores SIGTERM: that used to be a
    // note only; `forced_stops` makes a clean shutdown something to judge.
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = common::scenario_file(
        dir.path(),
        "stop.toml",
        r#"
name = "stop"
[[phase]]
name = "load"
load = { kind = "sequential", calls = 5 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"forced_stops == 0" = {}
"#,
    );
    let scenario = scenario.to_string_lossy().into_owned();
    let marker = marker("stubborn");
    let run = common::run(&[
        &scenario,
        "--shutdown-grace-ms",
        "200",
        "--",
        "python3",
        &hostile("flood.py"),
        "stubborn",
        "0",
        &marker,
    ]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run.criterion("stop", "forced_stops == 0"), "FAIL");
    assert_eq!(
        run.criterion_value("stop", "forced_stops == 0")["value"],
        1.0
    );
    assert_nothing_left(&marker);
}
