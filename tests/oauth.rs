//! OAuth 2.1 client credentials against the built-in target's
//! `--oauth-client` mode (its own small authorization server, on loopback):
//! discovery, a token kept fresh, refused tokens counted as auth failures,
//! and secrets never shown.

mod common;

use std::process::{Command, Stdio};

use common::{HttpTarget, f64_at, mcpstorm, run, scenario_file};

const CLIENT: &str = "loadtest:s3cret-Value-17";
const SECRET: &str = "s3cret-Value-17";

/// A file holding the client's secret in `dir`.
fn secret_file(dir: &std::path::Path) -> String {
    let file = dir.join("secret");
    std::fs::write(&file, format!("# the client's secret\n{SECRET}\n")).expect("writes");
    file.to_string_lossy().into_owned()
}

/// `run SCENARIO --url … --pid …` against `target` as the OAuth client
/// `loadtest`, its secret in a file, with `extra` flags.
fn run_as_client(target: &HttpTarget, scenario: &str, extra: &[&str]) -> common::Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = secret_file(dir.path());
    let mut args = vec![
        "--oauth-client-id",
        "loadtest",
        "--oauth-client-secret-file",
        &secret,
    ];
    args.extend(extra);
    target.run(scenario, &args)
}

/// Everything a run printed and wrote, to look for a secret in.
fn everything_said(run: &common::Run) -> String {
    format!(
        "{}{}{}",
        run.stdout,
        run.stderr,
        run.report
            .as_ref()
            .map(|r| r.to_string())
            .unwrap_or_default()
    )
}

fn wire(run: &common::Run, scenario: &str) -> serde_json::Value {
    run.scenario(scenario)["result"]["wire"].clone()
}

#[test]
fn a_token_is_found_fetched_and_kept_fresh_without_a_failed_call() {
    // Tokens live 4 s; the run lasts 9 s: fetched again at 3 s each, never
    // sent past 3.6 s, so no call meets an expired one.
    let target = HttpTarget::start(&["--oauth-client", CLIENT, "--oauth-token-lifetime-s", "4"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario_file(
        dir.path(),
        "soak.toml",
        r#"
name = "soak"
[[phase]]
name = "load"
load = { kind = "rate", rate = 100, duration_s = 9 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"success_rate == 1" = {}
"#,
    );
    let run = run_as_client(&target, &scenario.to_string_lossy(), &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let wire = wire(&run, "soak");
    assert_eq!(f64_at(&wire, "/auth_failures"), 0.0, "{wire}");
    assert_eq!(f64_at(&wire, "/token_fetches_failed"), 0.0, "{wire}");
    // The first, then one every 3 s: 3 or 4 in 9 s and the set-up.
    let fetches = f64_at(&wire, "/token_fetches");
    assert!((3.0..=5.0).contains(&fetches), "{wire}");
    assert!(f64_at(&wire, "/token_fetch_max_ms") > 0.0, "{wire}");
    assert!(run.stdout.contains("auth: "), "{}", run.stdout);
    // Where the tokens came from is said: it was the server's word.
    let notes = run.scenario("soak")["result"]["notes"].to_string();
    assert!(
        notes.contains("/token (found from the server's metadata) for client loadtest"),
        "{notes}"
    );
    assert!(
        !everything_said(&run).contains(SECRET),
        "the secret was shown"
    );
}

#[test]
fn a_revoked_token_is_an_auth_failure_and_the_next_call_has_a_new_one() {
    // The target refuses a token after 100 uses (a revocation): the call
    // that meets the 401 fails as an auth failure, not a server error, and
    // the calls after it carry a new token.
    let target = HttpTarget::start(&["--oauth-client", CLIENT, "--oauth-revoke-after", "100"]);
    let run = run_as_client(&target, "sequential", &[]);
    let result = &run.scenario("sequential")["result"];
    let wire = &result["wire"];
    let refused = f64_at(wire, "/auth_failures");
    // 1050 calls and the set-up's requests, 100 to a token.
    assert!((8.0..=12.0).contains(&refused), "{wire}\n{}", run.explain());
    assert_eq!(f64_at(wire, "/http_errors"), 0.0, "{wire}");
    let failed = 1050.0 - f64_at(result, "/total/outcomes/ok");
    assert!(failed <= refused, "{}", run.explain());
    assert!(f64_at(wire, "/token_fetches") >= refused, "{wire}");
    let said = everything_said(&run);
    assert!(
        said.contains("authentication refused: HTTP 401"),
        "{}",
        run.explain()
    );
    assert!(!said.contains(SECRET), "the secret was shown");
}

#[test]
fn a_wrong_secret_is_a_setup_error_that_shows_no_secret() {
    let target = HttpTarget::start(&["--oauth-client", CLIENT]);
    let run = run(&[
        "sequential",
        "--url",
        &target.url,
        "--oauth-client-id",
        "loadtest",
        "--oauth-client-secret-env",
        "MCPSTORM_TEST_WRONG_SECRET",
    ]);
    // The variable is not set: said, with the flag, before anything is sent.
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        everything_said(&run)
            .contains("--oauth-client-secret-env MCPSTORM_TEST_WRONG_SECRET: no secret there"),
        "{}",
        run.explain()
    );
    let output = Command::new(mcpstorm())
        .args([
            "run",
            "sequential",
            "--url",
            &target.url,
            "--oauth-client-id",
            "loadtest",
            "--oauth-client-secret-env",
            "MCPSTORM_TEST_WRONG_SECRET",
        ])
        .env("MCPSTORM_TEST_WRONG_SECRET", "not-the-s3cret-xyz")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    let said = common::said(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("refused the client: HTTP 401"), "{said}");
    assert!(said.contains("invalid_client"), "{said}");
    assert!(!said.contains("not-the-s3cret-xyz"), "{said}");
}

#[test]
fn a_server_that_publishes_no_metadata_needs_the_token_url() {
    // A bearer-only server: 401 without a challenge, no well-known documents.
    let target = HttpTarget::start(&["--require-bearer", "whatever"]);
    let run = run_as_client(&target, "sequential", &[]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stdout
            .contains("published no protected-resource metadata")
            && run.stdout.contains("--oauth-token-url"),
        "{}",
        run.explain()
    );
}

#[test]
fn a_token_endpoint_given_is_used_without_discovery() {
    let target = HttpTarget::start(&["--oauth-client", CLIENT]);
    let origin = target.url.trim_end_matches("/mcp");
    let token_url = format!("{origin}/token");
    let run = run_as_client(&target, "sequential", &["--oauth-token-url", &token_url]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(f64_at(&wire(&run, "sequential"), "/token_fetches"), 1.0);
}

#[test]
fn oauth_is_refused_where_it_does_not_apply() {
    let run = run(&[
        "sequential",
        "--oauth-client-id",
        "x",
        "--oauth-client-secret-env",
        "HOME",
    ]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        everything_said(&run).contains("--oauth-client-id is for HTTP servers"),
        "{}",
        run.explain()
    );
}

#[test]
fn over_http_sse_the_stream_and_every_post_carry_a_token_kept_fresh() {
    // The deprecated HTTP+SSE transport behind OAuth: tokens live 2 s, the
    // run lasts 5 s. The stream's GET and every POST carry the token of the
    // moment; none is refused.
    let target = HttpTarget::start(&[
        "--legacy-sse",
        "--oauth-client",
        CLIENT,
        "--oauth-token-lifetime-s",
        "2",
    ]);
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario_file(
        dir.path(),
        "soak.toml",
        r#"
name = "soak"
[[phase]]
name = "load"
load = { kind = "rate", rate = 50, duration_s = 5 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"success_rate == 1" = {}
"#,
    );
    let run = run_as_client(
        &target,
        &scenario.to_string_lossy(),
        &["--transport", "sse"],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let wire = wire(&run, "soak");
    assert_eq!(f64_at(&wire, "/auth_failures"), 0.0, "{wire}");
    // The first, then one every 1.5 s.
    let fetches = f64_at(&wire, "/token_fetches");
    assert!((3.0..=6.0).contains(&fetches), "{wire}");
    assert!(
        !everything_said(&run).contains(SECRET),
        "the secret was shown"
    );
}

#[test]
fn over_http_sse_a_revoked_token_is_an_auth_failure_and_the_next_call_has_a_new_one() {
    let target = HttpTarget::start(&[
        "--legacy-sse",
        "--oauth-client",
        CLIENT,
        "--oauth-revoke-after",
        "100",
    ]);
    let run = run_as_client(&target, "sequential", &["--transport", "sse"]);
    let result = &run.scenario("sequential")["result"];
    let wire = &result["wire"];
    let refused = f64_at(wire, "/auth_failures");
    // 1050 calls and the set-up's requests, 100 to a token.
    assert!((8.0..=12.0).contains(&refused), "{wire}\n{}", run.explain());
    assert_eq!(f64_at(wire, "/http_errors"), 0.0, "{wire}");
    let failed = 1050.0 - f64_at(result, "/total/outcomes/ok");
    assert!(failed <= refused, "{}", run.explain());
    assert!(f64_at(wire, "/token_fetches") >= refused, "{wire}");
    assert!(
        everything_said(&run).contains("authentication refused: HTTP 401"),
        "{}",
        run.explain()
    );
}
