//! What the peer tests share: where the third-party servers are installed,
//! free loopback ports, and running mcpstorm against a server over stdio or
//! HTTP.

use std::net::TcpListener;
use std::path::PathBuf;

use super::run;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn peer(relative: &str) -> String {
    let path = repo().join(".peers").join(relative);
    assert!(
        path.exists(),
        "peer missing: {} — install the peers with `bash tests/peers/install.sh`",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// A loopback port free right now, for a server that takes its port as given.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/mcp")
}

/// Run scenarios against an HTTP server that mcpstorm starts (`--server-cmd`).
pub fn run_over_http(
    scenarios: &[&str],
    extra: &[&str],
    server: impl Fn(u16) -> Vec<String>,
) -> super::Run {
    run_at(scenarios, extra, url, server)
}

/// [`run_over_http`] over the deprecated HTTP+SSE transport, its stream
/// at /sse.
pub fn run_over_sse(
    scenarios: &[&str],
    extra: &[&str],
    server: impl Fn(u16) -> Vec<String>,
) -> super::Run {
    let mut extra = extra.to_vec();
    extra.extend(["--transport", "sse"]);
    run_at(
        scenarios,
        &extra,
        |port| format!("http://127.0.0.1:{port}/sse"),
        server,
    )
}

fn run_at(
    scenarios: &[&str],
    extra: &[&str],
    url: impl Fn(u16) -> String,
    server: impl Fn(u16) -> Vec<String>,
) -> super::Run {
    let port = free_port();
    let mut args: Vec<String> = scenarios.iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--url".into(), url(port), "--server-cmd".into()]);
    // `--server-cmd` splits its one argument like a shell.
    let command = server(port);
    args.push(shlex::try_join(command.iter().map(String::as_str)).unwrap());
    run(&args)
}

pub fn run_against(scenarios: &[&str], extra: &[&str], server: &[String]) -> super::Run {
    let mut args: Vec<String> = scenarios.iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--".into());
    args.extend(server.iter().cloned());
    run(&args)
}
