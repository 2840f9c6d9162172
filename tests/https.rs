//! `https://` against the built-in target serving TLS with a private CA it
//! makes (`serve --tls-self-signed DIR`), all on loopback: trusted with
//! `--cacert`, refused without it (saying what to do), accepted with
//! `--insecure` and flagged in the summary and the report.

mod common;

use common::{mcpstorm, run};

/// The built-in target over TLS with a private CA it makes in `dir`
/// (`dir`/ca.pem), and `knobs`, as a --server-cmd.
fn tls_target(dir: &std::path::Path, knobs: &str) -> String {
    format!(
        "{} serve --http 127.0.0.1:0 --tls-self-signed {} {knobs}",
        mcpstorm(),
        dir.display()
    )
}

/// `run sequential` against a TLS target started for the run, with `extra`
/// flags; the CA's certificate goes to `dir`/ca.pem.
fn over_tls(dir: &std::path::Path, extra: &[&str]) -> common::Run {
    let server = tls_target(dir, "");
    let mut args = vec!["sequential", "--server-cmd", &server];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_private_ca_given_with_cacert_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let run = over_tls(dir.path(), &["--cacert", ca.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let result = &run.scenario("sequential")["result"];
    let endpoint = result["endpoint"].as_str().unwrap_or_default();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    let total = &result["total"];
    assert_eq!(total["outcomes"]["ok"], total["calls"], "{}", total);
    assert!(total["calls"].as_u64().unwrap_or(0) > 0, "{}", total);
    assert_eq!(run.report()["target"]["tls_unverified"], false);
    assert!(!run.stdout.contains("--insecure"), "{}", run.stdout);
}

#[test]
fn an_unknown_issuer_is_a_setup_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let run = over_tls(dir.path(), &[]);
    assert_eq!(run.code, 2, "{}", run.explain());
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("certificate was refused"), "{said}");
    assert!(said.contains("UnknownIssuer"), "{said}");
    assert!(said.contains("--cacert FILE"), "{said}");
}

#[test]
fn insecure_accepts_a_self_signed_server_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = over_tls(dir.path(), &["--insecure"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(run.report()["target"]["tls_unverified"], true);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("--insecure: the server's TLS certificate was not checked"),
        "{said}"
    );
}

#[test]
fn a_cacert_that_is_not_a_certificate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = common::scenario_file(dir.path(), "bogus.pem", "hello\n");
    let run = over_tls(dir.path(), &["--cacert", bogus.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.explain());
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("bogus.pem"), "{said}");
    assert!(said.contains("no certificate"), "{said}");
}

#[test]
fn the_target_serves_a_certificate_given_in_files() {
    // A certificate for localhost and 127.0.0.1, made here; the client
    // trusts it as its own CA.
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a certificate");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let server = format!(
        "{} serve --http 127.0.0.1:0 --tls-cert {} --tls-key {}",
        mcpstorm(),
        cert.display(),
        key.display()
    );
    let run = run(&[
        "sequential",
        "--server-cmd",
        &server,
        "--cacert",
        cert.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
}

#[test]
fn opening_a_connection_is_counted_apart_from_the_calls() {
    // Every TLS handshake waits 1.5 s at the server: the calls that opened
    // a connection would read as 1.5 s slow if it were theirs.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let server = tls_target(dir.path(), "--tls-accept-delay-ms 1500");
    let run = run(&[
        "concurrent",
        "--server-cmd",
        &server,
        "--cacert",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let result = &run.scenario("concurrent")["result"];
    let wire = &result["wire"];
    let opened = wire["connections_opened"].as_u64().unwrap_or(0);
    // Kept alive: far fewer connections than calls.
    let responses = wire["responses"].as_u64().unwrap_or(0);
    assert!(opened >= 1 && opened * 2 <= responses, "{wire}");
    assert!(
        common::f64_at(wire, "/connection_setup_max_ms") >= 1500.0,
        "{wire}"
    );
    assert!(
        common::f64_at(wire, "/connection_setup_p50_ms") >= 1500.0,
        "{wire}"
    );
    let slowest = common::f64_at(result, "/total/latency/max_ms");
    assert!(
        slowest < 1500.0,
        "a call carried the handshake: {slowest} ms"
    );
    assert!(
        run.stdout.contains("connections: ") && run.stdout.contains("not in the calls' latency"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(" resumed"), "{}", run.stdout);
}

#[test]
fn mutual_tls_presents_the_client_certificate_the_server_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_target(dir.path(), "--tls-client-ca self-signed");
    let file = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (ca, cert, key) = (file("ca.pem"), file("client.pem"), file("client.key"));
    // Without a client certificate the server refuses the handshake.
    let refused = run(&["sequential", "--server-cmd", &server, "--cacert", &ca]);
    assert_eq!(refused.code, 2, "{}", refused.explain());
    assert!(
        refused
            .stdout
            .contains("asked for a client certificate: --cert FILE --key FILE"),
        "{}",
        refused.explain()
    );
    // With the one its CA signed, the calls go through.
    let accepted = run(&[
        "sequential",
        "--server-cmd",
        &server,
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
    ]);
    assert_eq!(accepted.code, 0, "{}", accepted.explain());
    // A key that is not PEM is named.
    let bogus = common::scenario_file(dir.path(), "bogus.key", "not a key\n");
    let named = run(&[
        "sequential",
        "--server-cmd",
        &server,
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        bogus.to_str().unwrap(),
    ]);
    assert_eq!(named.code, 2, "{}", named.explain());
    assert!(named.stdout.contains("bogus.key"), "{}", named.explain());
}

#[test]
fn a_proxy_the_environment_names_is_refused_not_bypassed() {
    // Refused before any connection: `.invalid` never resolves, and nothing
    // is sent if the check holds.
    let output = std::process::Command::new(mcpstorm())
        .env("HTTPS_PROXY", "http://proxy.invalid:3128")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .args([
            "run",
            "--headless",
            "sequential",
            "--url",
            "https://mcp.invalid/mcp",
        ])
        .output()
        .expect("mcpstorm runs");
    let said = common::said(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("HTTPS_PROXY is set"), "{said}");
    assert!(said.contains("add mcp.invalid to NO_PROXY"), "{said}");
    // Loopback is never proxied: the TLS target still answers.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let server = tls_target(dir.path(), "");
    let output = std::process::Command::new(mcpstorm())
        .env("HTTPS_PROXY", "http://proxy.invalid:3128")
        .args([
            "run",
            "--headless",
            "sequential",
            "--server-cmd",
            &server,
            "--cacert",
        ])
        .arg(&ca)
        .output()
        .expect("mcpstorm runs");
    assert_eq!(output.status.code(), Some(0), "{}", common::said(&output));
}

#[test]
fn a_call_over_https_costs_what_it_costs_over_http_within_a_stated_margin() {
    // The same target answering 20 ms after each request, over HTTP and
    // over HTTPS: connections are kept alive and their handshakes counted
    // apart, so a call's latency over TLS is the server's 20 ms and a
    // little, as over plain HTTP: the p50s differ by less than 15 ms (a
    // margin a busy machine's noise stays under; a handshake per call, at
    // least one more round trip and the TLS work, would be inside it on
    // loopback, so what is asserted beside it is that none was made).
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let scenario = common::fixed_echo_scenario(dir.path(), 100);
    let p50 = |run: &common::Run| {
        common::f64_at(
            &run.scenario("fixed")["result"]["phases"][0]["latency"],
            "/p50_ms",
        )
    };
    let plain_server = format!("{} serve --http 127.0.0.1:0 --latency-ms 20", mcpstorm());
    let plain = run(&[&scenario, "--server-cmd", &plain_server]);
    assert_eq!(plain.code, 0, "{}", plain.explain());
    let tls_server = tls_target(dir.path(), "--latency-ms 20");
    let tls = run(&[
        &scenario,
        "--server-cmd",
        &tls_server,
        "--cacert",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(tls.code, 0, "{}", tls.explain());
    let (http_p50, https_p50) = (p50(&plain), p50(&tls));
    assert!(https_p50 >= 20.0, "{https_p50} ms");
    assert!(
        (https_p50 - http_p50).abs() < 15.0,
        "HTTPS p50 {https_p50} ms, HTTP p50 {http_p50} ms"
    );
    // Sequential calls on kept-alive connections: one handshake, not 100.
    let wire = &tls.scenario("fixed")["result"]["wire"];
    let handshakes = common::f64_at(wire, "/tls_handshakes");
    assert!((1.0..=3.0).contains(&handshakes), "{wire}");
}
