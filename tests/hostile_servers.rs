//! Servers that try to break mcpstorm: each must end as a clear setup error
//! or a reported failure, with the report written and no process left
//! behind, whatever the server says. The servers are small scripts in
//! tests/hostile/, spoken to over real pipes and sockets.

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::{mcpstorm, run};

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

fn assert_nothing_left(marker: &str) {
    let left = Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .expect("pgrep runs");
    assert!(
        left.stdout.is_empty(),
        "server left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
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
