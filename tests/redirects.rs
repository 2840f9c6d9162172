//! `--follow-redirects`: an endpoint's 307 and 308 followed before the run
//! (on its own host only), said in the report; without the flag, a redirect
//! is an error that says what to do. Against the built-in target's
//! `--redirect` knob, over real sockets.

mod common;

use common::{HttpTarget, run};

/// The target's URL with its path replaced.
fn at(target: &HttpTarget, path: &str) -> String {
    format!("{}{path}", target.url.trim_end_matches("/mcp"))
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
