//! Over HTTP, the calls go to the server whose figures are measured: a port
//! still held by an orphan of an earlier run, an address printed by a
//! process that does not serve it, or a --pid that does not hold the socket
//! are setup errors naming the process that would have answered. And the URL
//! used is said and reported.

mod common;

use std::process::{Command, Stdio};

use common::{HttpTarget, mcpstorm, run};

fn port_of(url: &str) -> &str {
    let address = url.trim_start_matches("http://");
    let host = address.split('/').next().unwrap_or("");
    host.rsplit(':').next().unwrap_or("")
}

#[test]
fn a_port_held_by_an_orphan_is_refused_before_the_server_starts() {
    // An orphan of an earlier run still serves the port. The new server
    // cannot bind it; its wrapper stays up (as `npx` and retry loops do), so
    // the old code found the port answering, sent every call to the orphan,
    // and read the new server's start-up as a leak.
    let orphan = HttpTarget::start(&[]);
    let port = port_of(&orphan.url);
    let server = format!(
        "sh -c '{} serve --http 127.0.0.1:{port} || sleep 60'",
        mcpstorm()
    );
    let run = run(&["sequential", "--url", &orphan.url, "--server-cmd", &server]);
    let said = run.explain();
    assert_eq!(run.code, 2, "a setup error: {said}");
    assert!(said.contains("already accepts connections"), "{said}");
    assert!(
        said.contains(&format!("pid {} (mcpstorm)", orphan.pid())),
        "names the orphan: {said}"
    );
    assert_eq!(run.scenario("sequential")["verdict"], "ERROR");
}

#[test]
fn an_address_printed_by_a_process_that_does_not_serve_it_is_refused() {
    // The command prints the orphan's address (as a wrapper that reads a
    // stale config would) and serves nothing itself.
    let orphan = HttpTarget::start(&[]);
    let server = format!("sh -c 'echo listening on {}; sleep 60'", orphan.url);
    let run = run(&["concurrent", "--server-cmd", &server]);
    let said = run.explain();
    assert_eq!(run.code, 2, "a setup error: {said}");
    assert!(said.contains("not in the process tree measured"), "{said}");
    assert!(
        said.contains(&format!("pid {} (mcpstorm)", orphan.pid())),
        "{said}"
    );
    common::assert_nothing_left(&format!("listening on {}", orphan.url));
}

#[test]
fn a_pid_that_does_not_hold_the_socket_is_refused() {
    let server = HttpTarget::start(&[]);
    let mut other = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .expect("sleep starts");
    let run = run(&[
        "concurrent",
        "--url",
        &server.url,
        "--pid",
        &other.id().to_string(),
    ]);
    let _ = other.kill();
    let _ = other.wait();
    let said = run.explain();
    assert_eq!(run.code, 2, "a setup error: {said}");
    assert!(said.contains("not in the process tree measured"), "{said}");
    assert!(said.contains(&format!("pid {}", server.pid())), "{said}");
    // The right pid passes.
    let run = common::run(&["concurrent", "--url", &server.url, "--pid", &server.pid()]);
    assert_eq!(run.code, 0, "{}", run.explain());
}

#[test]
fn the_url_used_is_said_and_reported() {
    let run = run(&["concurrent", "--transport", "http"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let endpoint = run.scenario("concurrent")["result"]["endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") && endpoint.ends_with("/mcp"),
        "{endpoint}"
    );
    assert!(port_of(&endpoint).parse::<u16>().is_ok_and(|p| p > 0));
    assert!(
        run.stdout.contains(&format!("at {endpoint}")),
        "{}",
        run.stdout
    );
}
