//! `--follow-redirects`: an endpoint's 307 and 308 followed before the run
//! (on its own host only), said in the report; without the flag, a redirect
//! is an error that says what to do. Over HTTP+SSE, the stream's GET
//! likewise. Against the built-in target's
//! `--redirect` knob, over real sockets.

mod common;

use common::{HttpTarget, run};

/// The target's URL with its path replaced.
fn at(target: &HttpTarget, path: &str) -> String {
    let (scheme, rest) = target.url.split_once("://").expect("a URL");
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}{path}")
}

fn sequential_at(target: &HttpTarget, path: &str, extra: &[&str]) -> common::Run {
    let url = at(target, path);
    let pid = target.pid();
    let mut args = vec!["sequential", "--url", &url, "--pid", &pid];
    args.extend(extra);
    run(&args)
}

#[test]
fn a_permanent_redirect_is_followed_when_asked_and_said() {
    let target = HttpTarget::start(&["--redirect", "/old=/mcp"]);
    let run = sequential_at(&target, "/old", &["--follow-redirects"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let notes = run.scenario("sequential")["result"]["notes"].to_string();
    assert!(
        notes.contains("redirected (HTTP 308) from") && notes.contains("/old to "),
        "{notes}"
    );
    // The calls went to the final URL, not through the redirect each time.
    assert_eq!(
        run.scenario("sequential")["result"]["wire"]["http_errors"],
        0
    );
    assert!(
        run.scenario("sequential")["result"]["endpoint"]
            .as_str()
            .is_some_and(|e| e.ends_with("/mcp")),
        "{}",
        run.explain()
    );
}

#[test]
fn without_the_flag_a_redirect_says_what_to_do() {
    let target = HttpTarget::start(&["--redirect", "/old=/mcp", "--redirect-status", "307"]);
    let run = sequential_at(&target, "/old", &[]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stdout.contains("a redirect to \"/mcp\"") || run.stdout.contains("a redirect to /mcp"),
        "{}",
        run.explain()
    );
    assert!(
        run.stdout.contains("--follow-redirects"),
        "{}",
        run.explain()
    );
}

#[test]
fn a_redirect_to_another_host_or_that_turns_a_post_into_a_get_is_refused() {
    let target = HttpTarget::start(&["--redirect", "/away=http://192.0.2.1:9/mcp"]);
    let run = sequential_at(&target, "/away", &["--follow-redirects"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stdout.contains("another host"), "{}", run.explain());
    let target = HttpTarget::start(&["--redirect", "/moved=/mcp", "--redirect-status", "301"]);
    let run = sequential_at(&target, "/moved", &["--follow-redirects"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stdout.contains("may turn a POST into a GET"),
        "{}",
        run.explain()
    );
}

#[test]
fn a_redirect_loop_ends() {
    let target = HttpTarget::start(&["--redirect", "/a=/b", "--redirect", "/b=/a"]);
    let run = sequential_at(&target, "/a", &["--follow-redirects"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stdout.contains("more than 5 redirects"),
        "{}",
        run.explain()
    );
}

#[test]
fn over_http_sse_the_stream_s_redirect_is_followed_when_asked_and_said() {
    // The HTTP+SSE target's stream moved: its GET is redirected (302, which
    // keeps a GET a GET), and the messages go where the final stream says.
    let target = HttpTarget::start(&[
        "--legacy-sse",
        "--redirect",
        "/old-sse=/sse",
        "--redirect-status",
        "302",
    ]);
    let followed = sequential_at(
        &target,
        "/old-sse",
        &["--transport", "sse", "--follow-redirects"],
    );
    assert_eq!(followed.code, 0, "{}", followed.explain());
    let result = &followed.scenario("sequential")["result"];
    let notes = result["notes"].to_string();
    assert!(
        notes.contains("redirected (HTTP 302) from") && notes.contains("/old-sse to "),
        "{notes}"
    );
    assert_eq!(result["wire"]["http_errors"], 0);
    // Without the flag: an error that names where it leads and what to do.
    let refused = sequential_at(&target, "/old-sse", &["--transport", "sse"]);
    assert_eq!(refused.code, 2, "{}", refused.explain());
    assert!(
        refused.stdout.contains("a redirect to /sse:")
            && refused.stdout.contains("--follow-redirects"),
        "{}",
        refused.explain()
    );
}
