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
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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
