//! `--http2` against the built-in target, which serves HTTP/1.1 and HTTP/2
//! (over TLS as ALPN chooses, over plain TCP by prior knowledge) unless
//! `--http1-only`: every call a stream of one connection, counted apart and
//! said; the same calls over HTTP/1.1 take one connection each in flight.
//! All on loopback.

mod common;

use common::{f64_at, mcpstorm, run};

/// 16 calls in flight at a time, each answered 20 ms late: 640 calls over
/// about 0.8 s, long enough for the server's descriptors to be sampled
/// while every connection is open.
fn parallel_scenario(dir: &std::path::Path) -> String {
    let text = "name = \"parallel\"\n[[phase]]\nname = \"load\"\n\
         load = { kind = \"concurrent\", workers = 16, calls = 640 }\n\
         [[call]]\ntool = \"echo\"\narguments = { message = \"x\" }\n";
    common::scenario_file(dir, "parallel.toml", text)
        .to_string_lossy()
        .into_owned()
}

/// The built-in target over TLS (its CA at `dir`/ca.pem), with `knobs`.
fn tls_target(dir: &std::path::Path, knobs: &str) -> String {
    format!(
        "{} serve --http 127.0.0.1:0 --tls-self-signed {} {knobs}",
        mcpstorm(),
        dir.display()
    )
}

/// The parallel scenario against `server`, with `extra` flags.
fn parallel(dir: &std::path::Path, server: &str, extra: &[&str]) -> common::Run {
    let scenario = parallel_scenario(dir);
    let mut args = vec![
        scenario.as_str(),
        "--server-cmd",
        server,
        "--probe-interval-ms",
        "50",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Connections opened, and of them those speaking HTTP/2.
fn connections(run: &common::Run) -> (u64, u64) {
    let wire = &run.scenario("parallel")["result"]["wire"];
    let count = |key: &str| wire[key].as_u64().unwrap_or(u64::MAX);
    (count("connections_opened"), count("http2_connections"))
}

/// The server's most descriptors open at once, above those it had at start.
fn server_fds_added(run: &common::Run) -> f64 {
    let resources = &run.scenario("parallel")["result"]["resources"];
    f64_at(resources, "/fds_max") - f64_at(resources, "/fds_start")
}

#[test]
fn over_tls_every_call_is_a_stream_of_one_connection_where_http1_needs_one_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let server = tls_target(dir.path(), "--latency-ms 20");
    let http2 = parallel(dir.path(), &server, &["--cacert", ca, "--http2"]);
    assert_eq!(http2.code, 0, "{}", http2.explain());
    let total = &http2.scenario("parallel")["result"]["total"];
    assert_eq!(total["outcomes"]["ok"], 640, "{total}");
    assert_eq!(connections(&http2), (1, 1), "{}", http2.stdout);
    assert!(
        http2.stdout.contains("the server chose HTTP/2 (ALPN)")
            && http2.stdout.contains("1 opened · HTTP/2"),
        "{}",
        http2.stdout
    );
    // The same load over HTTP/1.1: a connection per call in flight.
    let http1 = parallel(dir.path(), &server, &["--cacert", ca]);
    assert_eq!(http1.code, 0, "{}", http1.explain());
    let (opened, multiplexed) = connections(&http1);
    assert!((16..=40).contains(&opened), "{}", http1.stdout);
    assert_eq!(multiplexed, 0);
    // The server's own descriptors agree: its sockets, read from /proc.
    let (added_http2, added_http1) = (server_fds_added(&http2), server_fds_added(&http1));
    assert!(added_http2 <= 3.0, "HTTP/2 added {added_http2} descriptors");
    assert!(
        added_http1 >= 14.0,
        "HTTP/1.1 added {added_http1} descriptors"
    );
}

#[test]
fn over_plain_http_http2_is_spoken_by_prior_knowledge() {
    let dir = tempfile::tempdir().unwrap();
    let server = format!("{} serve --http 127.0.0.1:0 --latency-ms 20", mcpstorm());
    let run = parallel(dir.path(), &server, &["--http2"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(connections(&run), (1, 1), "{}", run.stdout);
    assert!(run.stdout.contains("h2c"), "{}", run.stdout);
    // Both eras: the handshake era's session id rides on the streams too.
    let handshake = format!("{server} --era handshake");
    let run = parallel(dir.path(), &handshake, &["--http2"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(connections(&run), (1, 1), "{}", run.stdout);
}

#[test]
fn a_server_that_does_not_choose_http2_is_spoken_to_in_http1_and_it_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let server = tls_target(dir.path(), "--http1-only");
    let run = parallel(
        dir.path(),
        &server,
        &["--cacert", ca.to_str().unwrap(), "--http2"],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let (opened, multiplexed) = connections(&run);
    assert!(opened > 1 && multiplexed == 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("the server chose HTTP/1.1 (ALPN)"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("· HTTP/2"), "{}", run.stdout);
}

#[test]
fn prior_knowledge_to_a_server_that_speaks_only_http1_says_to_leave_out_http2() {
    let server = format!("{} serve --http 127.0.0.1:0 --http1-only", mcpstorm());
    let run = run(&["sequential", "--server-cmd", &server, "--http2"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stdout.contains("leave out --http2"),
        "{}",
        run.explain()
    );
}

#[test]
fn http2_is_refused_where_there_is_no_streamable_http() {
    for extra in [&["--transport", "stdio"][..], &["--transport", "sse"][..]] {
        let mut args = vec!["sequential", "--http2"];
        args.extend_from_slice(extra);
        let run = run(&args);
        assert_eq!(run.code, 2, "{}", run.explain());
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(
            said.contains("--http2 is for Streamable HTTP servers"),
            "{said}"
        );
    }
}

#[test]
fn a_call_over_http2_costs_what_it_costs_over_http1_within_a_stated_margin() {
    // The TLS target answering 20 ms after each request, 16 calls in
    // flight: over HTTP/1.1 on 16 connections, over HTTP/2 as streams of
    // one. Each call's latency is the server's 20 ms and a little either
    // way: the p50s differ by less than 15 ms, a margin a busy machine's
    // noise stays under (calls queued behind one connection, or its
    // handshake counted in the calls, would cross it).
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let server = tls_target(dir.path(), "--latency-ms 20");
    let p50 = |run: &common::Run| {
        f64_at(
            &run.scenario("parallel")["result"]["phases"][0]["latency"],
            "/p50_ms",
        )
    };
    let http1 = parallel(dir.path(), &server, &["--cacert", ca]);
    assert_eq!(http1.code, 0, "{}", http1.explain());
    let http2 = parallel(dir.path(), &server, &["--cacert", ca, "--http2"]);
    assert_eq!(http2.code, 0, "{}", http2.explain());
    let (http1_p50, http2_p50) = (p50(&http1), p50(&http2));
    assert!(http2_p50 >= 20.0, "{http2_p50} ms");
    assert!(
        (http2_p50 - http1_p50).abs() < 15.0,
        "HTTP/2 p50 {http2_p50} ms, HTTP/1.1 p50 {http1_p50} ms"
    );
}

#[test]
fn a_call_given_up_on_resets_its_stream_and_the_connection_carries_on() {
    // Every fourth call sleeps 5 s at the server and is given up after 1 s;
    // the others answer at once. Over HTTP/1.1 a call given up on closes
    // its connection (the only way to cancel it there); over HTTP/2 its
    // stream alone is reset, and one connection carries the whole run.
    let dir = tempfile::tempdir().unwrap();
    let text = "name = \"parallel\"\ntimeout_ms = 1000\n[[phase]]\nname = \"load\"\n\
         load = { kind = \"concurrent\", workers = 4, calls = 24 }\n\
         [[call]]\ntool = \"echo\"\narguments = { message = \"x\" }\nweight = 3\n\
         [[call]]\ntool = \"sleep\"\narguments = { ms = 5000 }\nweight = 1\n";
    let scenario = common::scenario_file(dir.path(), "timeouts.toml", text);
    let server = format!("{} serve --http 127.0.0.1:0", mcpstorm());
    for (http2, era) in [
        (true, "stateless"),
        (true, "handshake"),
        (false, "stateless"),
    ] {
        let server = format!("{server} --era {era}");
        let mut args = vec![scenario.to_str().unwrap(), "--server-cmd", &server];
        if http2 {
            args.push("--http2");
        }
        let run = run(&args);
        let result = &run.scenario("parallel")["result"];
        let outcomes = &result["total"]["outcomes"];
        let count = |key: &str| outcomes[key].as_u64().unwrap_or(0);
        assert!(
            count("timeout") >= 1 && count("ok") >= 1,
            "{era}: {outcomes}"
        );
        let (opened, multiplexed) = connections(&run);
        if http2 {
            assert_eq!((opened, multiplexed), (1, 1), "{era}: {}", run.stdout);
        } else {
            // A connection per worker, and more to replace those closed.
            assert!(opened > 4, "{}", run.stdout);
        }
    }
}
