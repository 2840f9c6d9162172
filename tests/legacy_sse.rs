//! The deprecated HTTP+SSE transport (2024-11-05), against the built-in
//! target's `--legacy-sse` mode and small hostile servers
//! (tests/hostile/sse_server.py), over real sockets.

mod common;

use common::peers::free_port;
use common::{assert_nothing_left, f64_at, mcpstorm, run};

/// `mcpstorm run SCENARIO --transport sse` against the built-in target in
/// its legacy mode with `knobs`, started by mcpstorm.
fn run_over_sse(scenario: &str, knobs: &[&str]) -> common::Run {
    let mut server = vec![mcpstorm(), "serve", "--http", "127.0.0.1:0", "--legacy-sse"];
    server.extend(knobs);
    let command = shlex::try_join(server).expect("quotable");
    run(&[scenario, "--transport", "sse", "--server-cmd", &command])
}

#[test]
fn the_built_in_target_over_http_sse_passes_and_is_reported_as_sse() {
    // `--transport sse` alone starts the built-in target in its legacy mode.
    let run = run(&["sequential", "--transport", "sse"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(run.report()["target"]["transport"], "sse");
    let result = &run.scenario("sequential")["result"];
    assert_eq!(f64_at(result, "/total/outcomes/ok"), 1050.0);
    // The transport of 2024-11-05 carries the handshake era.
    assert_eq!(result["server"]["protocol_version"], "2025-11-25");
    let wire = &result["wire"];
    assert_eq!(f64_at(wire, "/correlation_violations"), 0.0, "{wire}");
    assert_eq!(f64_at(wire, "/protocol_violations"), 0.0, "{wire}");
    // The GET stream, and the POSTs' connection.
    assert!(f64_at(wire, "/connections_opened") >= 2.0, "{wire}");
}

#[test]
fn every_default_scenario_passes_over_http_sse_against_the_target() {
    // Cold starts over HTTP, session churn (a stream per session) and the
    // bad inputs (a request before a session's initialize is refused: the
    // target once let any session's initialize admit every other's).
    let run = run(&["--transport", "sse"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let scenarios = run.report()["scenarios"].as_array().map_or(0, Vec::len);
    assert_eq!(scenarios, 8, "{}", run.explain());
}

#[test]
fn latency_over_http_sse_is_the_servers_own_delay() {
    // Answered 20 ms after each POST, on the stream: a call takes 20 ms and
    // a little, never less (the POST's 202 comes first and is not the answer).
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = common::fixed_echo_scenario(dir.path(), 40);
    let run = run_over_sse(&scenario, &["--latency-ms", "20"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let latency = &run.scenario("fixed")["result"]["phases"][0]["latency"];
    let p50 = f64_at(latency, "/p50_ms");
    assert!((20.0..35.0).contains(&p50), "p50 {p50} ms: {latency}");
    assert!(f64_at(latency, "/min_ms") >= 20.0, "{latency}");
}

#[test]
fn a_leak_over_http_sse_is_caught_at_its_size() {
    let run = run_over_sse("memory-leak", &["--leak-kb", "64"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let trend = f64_at(
        &run.scenario("memory-leak")["result"]["resources"],
        "/rss_trend/kb_per_call",
    );
    assert!((57.6..=70.4).contains(&trend), "{trend} KB a call");
}

#[test]
fn a_lost_session_is_opened_again_on_a_new_stream() {
    // The target forgets a session after 200 requests: the POST meets 404,
    // that one call fails, and the next opens a new stream and initializes.
    let run = run_over_sse("sequential", &["--session-expire-after", "200"]);
    let result = &run.scenario("sequential")["result"];
    let expired = f64_at(result, "/wire/sessions_expired");
    assert!((4.0..=6.0).contains(&expired), "{}", run.explain());
    let failed = 1050.0 - f64_at(result, "/total/outcomes/ok");
    assert_eq!(failed, expired, "{}", run.explain());
}

#[test]
fn a_stream_the_server_ends_fails_only_the_calls_it_owed() {
    // After 30 answers the server ends the stream (and forgets the
    // session): the calls go on in a new session.
    let (run, _) = against_hostile("ends 30", &[]);
    let result = &run.scenario("sequential")["result"];
    let ok = f64_at(result, "/total/outcomes/ok");
    // Each session answers 30 requests, the handshake and list among them:
    // most calls succeed, and every failure is accounted for.
    assert!(ok >= 900.0, "{}", run.explain());
    let outcomes = &result["total"]["outcomes"];
    let counted: f64 = [
        "ok",
        "jsonrpc_error",
        "tool_error",
        "timeout",
        "transport_error",
        "protocol_error",
    ]
    .iter()
    .map(|o| f64_at(outcomes, &format!("/{o}")))
    .sum();
    assert_eq!(counted, 1050.0, "{outcomes}");
    assert_eq!(f64_at(outcomes, "/timeout"), 0.0, "{outcomes}");
}

#[test]
fn responses_for_ids_never_issued_are_counted_and_harm_no_call() {
    let (run, _) = against_hostile("stray", &[]);
    let result = &run.scenario("sequential")["result"];
    assert_eq!(
        f64_at(result, "/total/outcomes/ok"),
        1050.0,
        "{}",
        run.explain()
    );
    // One stray after each of the 1050 calls and the handshake's requests.
    let unknown = f64_at(result, "/wire/unknown_ids");
    assert!(unknown >= 1050.0, "{}", run.explain());
}

#[test]
fn a_flood_of_server_requests_is_answered_within_a_bound() {
    // 500 pings at once, whose answers the server holds 3 s each: 64
    // answers go out at once, the rest are counted unanswered; the calls
    // go on, and mcpstorm keeps no task (nor memory) per ping.
    let (run, peak_mb) = against_hostile("ping-flood 500", &[]);
    let result = &run.scenario("sequential")["result"];
    assert_eq!(
        f64_at(result, "/total/outcomes/ok"),
        1050.0,
        "{}",
        run.explain()
    );
    let wire = &result["wire"];
    assert_eq!(f64_at(wire, "/server_requests"), 500.0, "{wire}");
    assert!(f64_at(wire, "/protocol_violations") >= 400.0, "{wire}");
    assert!(peak_mb < 60.0, "mcpstorm's peak RSS {peak_mb} MB");
}

fn sse_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/sse")
}

/// `run sequential --transport sse` against tests/hostile/sse_server.py in
/// `mode` (with its argument), on a free port, with `extra` flags; after it,
/// the server must be gone.
fn against_hostile(mode: &str, extra: &[&str]) -> (common::Run, f64) {
    let port = free_port();
    let marker = format!(
        "marker-sse-{}-{}",
        mode.replace(' ', "-"),
        std::process::id()
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/sse_server.py");
    let mut words = vec!["python3".to_string(), script.to_string_lossy().into_owned()];
    let mut parts = mode.split_whitespace();
    words.push(parts.next().unwrap_or(mode).to_string());
    words.push(port.to_string());
    words.extend(parts.map(str::to_string));
    words.push(marker.clone());
    let server = shlex::try_join(words.iter().map(String::as_str)).expect("quotable");
    let url = sse_url(port);
    let mut args = vec![
        "sequential",
        "--transport",
        "sse",
        "--url",
        &url,
        "--server-cmd",
        &server,
    ];
    args.extend(extra);
    let (run, peak_mb) = common::run_with_peak_rss(&args);
    assert_nothing_left(&marker);
    (run, peak_mb)
}

/// A hostile server's run: a setup error (exit 2) that says `expected`,
/// the server stopped.
fn assert_refused(mode: &str, expected: &str) {
    let (run, _) = against_hostile(mode, &["--startup-timeout-ms", "3000"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stdout.contains(expected), "{}", run.explain());
}

#[test]
fn an_endpoint_on_another_origin_is_refused() {
    // Messages (and any token sent with them) go only where mcpstorm connected.
    assert_refused("foreign", "not a URI on http://127.0.0.1:");
}

#[test]
fn a_stream_that_never_names_its_endpoint_is_a_clear_error() {
    assert_refused("silent", "sent no `endpoint` event within 3s");
}

#[test]
fn a_url_that_is_not_an_event_stream_says_so() {
    assert_refused("json", "not text/event-stream");
}

#[test]
fn an_event_without_end_is_cut_at_the_message_limit() {
    // 64 MB of one data line, before the handshake's answer: read up to the
    // 1 MiB limit, then the stream is given up as a protocol violation, said
    // as such (not as a server that exited); mcpstorm's memory stays small.
    let (run, peak_mb) = against_hostile("huge 64", &["--max-message-bytes", "1048576"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stdout
            .contains("an SSE event exceeds the 1048576-byte message limit"),
        "{}",
        run.explain()
    );
    assert!(peak_mb < 60.0, "mcpstorm's peak RSS {peak_mb} MB");
}

#[test]
fn a_session_is_its_stream_and_a_session_leak_is_caught() {
    // Each session holds 16 KB, freed when its stream closes: closing the
    // stream ends the session. With 64 KB a session kept for good, the
    // churn catches it.
    let closed_phase = |run: &common::Run| {
        let phases = &run.scenario("session-churn")["result"]["phases"];
        let closed = phases
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == "closed"))
            .unwrap_or_else(|| panic!("no closed phase\n{}", run.explain()));
        f64_at(closed, "/churn/retained_kb_per_session")
    };
    let clean = run_over_sse("session-churn", &[]);
    let kept = closed_phase(&clean);
    assert!(kept.abs() < 8.0, "{kept} KB a session\n{}", clean.explain());
    let leaky = run_over_sse("session-churn", &["--session-leak-kb", "64"]);
    let kept = closed_phase(&leaky);
    assert!(
        (56.0..=72.0).contains(&kept),
        "{kept} KB a session\n{}",
        leaky.explain()
    );
    assert_eq!(
        leaky.criterion("session-churn", "retained_kb_per_session(closed) <= 32"),
        "FAIL"
    );
}
