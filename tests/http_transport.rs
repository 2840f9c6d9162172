//! Streamable HTTP against the built-in target served over real loopback
//! sockets: both eras, JSON and SSE replies, sessions that expire, headers
//! that must be sent (and never shown), a server mcpstorm starts, one it is
//! only pointed at, and one it cannot reach.

mod common;

use std::process::Command;

use common::{HttpTarget, f64_at, mcpstorm, run};

fn server_of(run: &common::Run, scenario: &str) -> serde_json::Value {
    run.scenario(scenario)["result"]["server"].clone()
}

#[test]
fn the_builtin_target_over_http_speaks_the_stateless_era_by_default() {
    let run = run(&["concurrent", "--transport", "http"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(
        server_of(&run, "concurrent")["protocol_version"],
        "2026-07-28"
    );
    assert_eq!(run.report()["target"]["transport"], "http");
    let result = &run.scenario("concurrent")["result"];
    assert_eq!(f64_at(result, "/total/calls"), 100.0);
    // The server mcpstorm started is measured.
    assert!(
        f64_at(result, "/resources/rss_current_mb") > 1.0,
        "{result}"
    );
}

#[test]
fn a_stateless_request_without_its_mirrored_headers_is_refused() {
    // The check mcpstorm's own requests pass: the target really enforces it.
    let target = HttpTarget::start(&[]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let refused = target.raw_post(
        &["MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call"],
        body,
    );
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    assert!(refused.contains("-32020"), "{refused}");
    let accepted = target.raw_post(
        &[
            "MCP-Protocol-Version: 2026-07-28",
            "Mcp-Method: tools/call",
            "Mcp-Name: echo",
        ],
        body,
    );
    assert!(accepted.starts_with("HTTP/1.1 200"), "{accepted}");
}

#[test]
fn declared_tool_arguments_are_mirrored_into_mcp_param_headers() {
    // The target's echo declares `region` with x-mcp-header "Region": a call
    // that sets it must carry Mcp-Param-Region, base64-wrapped when not ASCII.
    let target = HttpTarget::start(&[]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x","region":"Zürich"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let standard = [
        "MCP-Protocol-Version: 2026-07-28",
        "Mcp-Method: tools/call",
        "Mcp-Name: echo",
    ];
    let refused = target.raw_post(&standard, body);
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    assert!(refused.contains("mcp-param-region"), "{refused}");
    let wrong = target.raw_post(
        &[&standard[..], &["Mcp-Param-Region: Zurich"]].concat(),
        body,
    );
    assert!(wrong.starts_with("HTTP/1.1 400"), "{wrong}");
    let encoded = "Mcp-Param-Region: =?base64?WsO8cmljaA==?=";
    let accepted = target.raw_post(&[&standard[..], &[encoded]].concat(), body);
    assert!(accepted.starts_with("HTTP/1.1 200"), "{accepted}");

    // mcpstorm reads the declarations from tools/list and sends the headers:
    // every call passes the target's check.
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(
        dir.path(),
        "region.toml",
        r#"
name = "region"
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 4, calls = 200 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}", region = "Zürich-{seq}" }
[acceptance]
"success_rate == 1" = {}
"#,
    );
    let run = run(&[scenario.to_str().unwrap(), "--url", &target.url]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(
        run.scenario("region")["result"]["server"]["protocol_version"],
        "2026-07-28"
    );
}

#[test]
fn handshake_sessions_are_kept_reopened_after_a_404_and_deleted_at_the_end() {
    let target = HttpTarget::start(&["--era", "handshake", "--session-expire-after", "200"]);
    let run = target.run("sequential", &[]);
    assert_eq!(
        server_of(&run, "sequential")["protocol_version"],
        "2025-11-25"
    );
    let result = &run.scenario("sequential")["result"];
    let expired = f64_at(result, "/wire/sessions_expired");
    // 1050 calls, a new session every 200 requests: 5 losses, each answered
    // by a new initialize, so the calls after it succeed again.
    assert!(
        (4.0..=6.0).contains(&expired),
        "sessions lost {expired}\n{}",
        run.explain()
    );
    let failed = 1050.0 - f64_at(result, "/total/outcomes/ok");
    assert_eq!(
        failed,
        expired,
        "only the call that met the 404 fails\n{}",
        run.explain()
    );
    let notes = result["notes"].to_string();
    assert!(notes.contains("ended with DELETE: HTTP 200"), "{notes}");
    // And the target really forgot it: the id is dead.
    let raw = target.raw_post(
        &["Mcp-Session-Id: 00000000000000000000000000000000"],
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");
}

#[test]
fn sse_replies_with_notifications_before_the_response_are_read() {
    let run = run(&[
        "concurrent",
        "--server-cmd",
        &format!(
            "{} serve --http 127.0.0.1:0 --sse --log-every 4",
            mcpstorm()
        ),
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let result = &run.scenario("concurrent")["result"];
    assert_eq!(f64_at(result, "/total/outcomes/ok"), 100.0);
    // Every 4th request logs: 25 of the 100 calls, plus 0 for the opening.
    assert_eq!(f64_at(result, "/wire/notifications"), 25.0, "{result}");
    assert_eq!(f64_at(result, "/wire/protocol_violations"), 0.0);
}

#[test]
fn a_bare_url_says_server_figures_are_not_measured_and_does_not_fail_on_them() {
    let target = HttpTarget::start(&[]);
    let run = run(&["sequential", "--url", &target.url]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(
        run.criterion("sequential", "rss_growth_mb <= 50"),
        "NOT_MEASURED"
    );
    assert_eq!(
        run.criterion("sequential", "success_rate(load) >= 0.99"),
        "PASS"
    );
    assert!(
        run.stdout
            .contains("not measured: mcpstorm knows no server process"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_server_named_by_pid_is_measured_as_proc_reads_it() {
    let target = HttpTarget::start(&["--leak-kb", "100"]);
    let run = target.run("sequential", &[]);
    assert_eq!(
        run.code,
        1,
        "a 100 KB/call leak over 1050 calls grows 100 MB\n{}",
        run.explain()
    );
    let result = &run.scenario("sequential")["result"];
    let reported = f64_at(result, "/resources/rss_current_mb");
    let status = std::fs::read_to_string(format!("/proc/{}/status", target.pid())).unwrap();
    let proc_mb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .expect("VmRSS")
        / 1024.0;
    assert!(
        (reported - proc_mb).abs() < 3.0,
        "report {reported:.1} MB, /proc {proc_mb:.1} MB"
    );
    assert!(run.criterion("sequential", "rss_growth_mb <= 50") == "FAIL");
}

#[test]
fn headers_are_sent_and_their_values_never_shown() {
    let secret = "tok-5ecr3t-value";
    let knobs = format!(
        "{} serve --http 127.0.0.1:0 --require-bearer {secret}",
        mcpstorm()
    );
    let refused = run(&["concurrent", "--server-cmd", &knobs]);
    assert_eq!(refused.code, 2, "{}", refused.explain());
    assert!(refused.stdout.contains("401"), "{}", refused.explain());
    let header = format!("Authorization: Bearer {secret}");
    let accepted = run(&["concurrent", "--server-cmd", &knobs, "--header", &header]);
    assert_eq!(accepted.code, 0, "{}", accepted.explain());
    // The server command carries the token too (it is the test's own target);
    // what must never leak is the header: only the knob's copy may appear.
    let report = accepted.report().to_string();
    for (what, text) in [
        ("stdout", &accepted.stdout),
        ("stderr", &accepted.stderr),
        ("report", &report),
    ] {
        assert!(
            !text.contains(&format!("Bearer {secret}")),
            "{what} shows the header value"
        );
    }
}

#[test]
fn an_http_server_that_dies_or_never_listens_is_a_clear_setup_error() {
    let dies = run(&[
        "concurrent",
        "--server-cmd",
        "sh -c 'echo boot failed >&2; exit 3'",
    ]);
    assert_eq!(dies.code, 2, "{}", dies.explain());
    assert!(
        dies.stdout.contains("exited before accepting connections"),
        "{}",
        dies.explain()
    );
    assert!(dies.stdout.contains("boot failed"), "{}", dies.explain());

    let silent = run(&[
        "concurrent",
        "--startup-timeout-ms",
        "500",
        "--server-cmd",
        "sleep 30",
    ]);
    assert_eq!(silent.code, 2, "{}", silent.explain());
    assert!(
        silent
            .stdout
            .contains("printed no http:// or https:// address"),
        "{}",
        silent.explain()
    );

    let refused = run(&["concurrent", "--url", "http://127.0.0.1:9/mcp"]);
    assert_eq!(refused.code, 2, "{}", refused.explain());
    assert!(
        refused.stdout.contains("Connection refused"),
        "{}",
        refused.explain()
    );
}

#[test]
fn a_crash_of_the_http_server_is_counted_and_the_run_fails() {
    let run = run(&[
        "sequential",
        "--server-cmd",
        &format!("{} serve --http 127.0.0.1:0 --crash-after 300", mcpstorm()),
    ]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let result = &run.scenario("sequential")["result"];
    assert_eq!(f64_at(result, "/crashes"), 1.0, "{result}");
    assert_eq!(run.criterion("sequential", "crashes == 0"), "FAIL");
}

#[test]
fn an_http_entry_of_an_mcp_config_runs_unchanged() {
    let target = HttpTarget::start(&["--require-bearer", "cfg-t0ken"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp.json");
    let text = format!(
        r#"{{"mcpServers": {{"remote": {{"type": "http", "url": "{}",
            "headers": {{"Authorization": "Bearer cfg-t0ken"}}}}}}}}"#,
        target.url
    );
    std::fs::write(&config, text).unwrap();
    let run = run(&[
        "concurrent",
        "--config",
        config.to_str().unwrap(),
        "--pid",
        &target.pid(),
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(run.report()["target"]["transport"], "http");
    let everything = format!("{}{}{}", run.stdout, run.stderr, run.report());
    assert!(!everything.contains("cfg-t0ken"), "the header value leaked");
}

#[test]
fn discover_reads_the_catalog_over_http() {
    let target = HttpTarget::start(&["--era", "handshake"]);
    let output = Command::new(mcpstorm())
        .args(["discover", "--json", "--url", &target.url])
        .output()
        .expect("discover runs");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["server"]["protocol_version"], "2025-11-25");
    let tools: Vec<&str> = doc["catalog"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tools, ["echo", "add", "sleep", "alloc"]);
}

#[test]
fn a_port_0_address_printed_before_the_real_one_is_passed_over() {
    // "binding http://127.0.0.1:0/…" first: mcpstorm waited on port 0 for
    // its whole start-up timeout. The real address follows, and is used.
    let server = format!(
        "sh -c 'echo binding http://127.0.0.1:0/mcp; exec {} serve --http 127.0.0.1:0'",
        mcpstorm()
    );
    let run = run(&[
        "concurrent",
        "--startup-timeout-ms",
        "20000",
        "--server-cmd",
        &server,
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.wall.as_secs() < 15, "waited {:?}", run.wall);
}

#[test]
fn the_leak_hunt_names_the_leaking_tool_over_http_in_both_eras() {
    // The built-in hunt, shortened (3 s to warm up, 12 s in turns): `add`
    // keeps 16 KB a call, in a server reached over HTTP.
    let dir = tempfile::tempdir().unwrap();
    let hunt = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/leak-hunt.toml"),
    )
    .expect("the built-in leak hunt")
    .replace("duration_s = 10", "duration_s = 3")
    .replace("duration_s = 30", "duration_s = 12");
    let scenario = common::scenario_file(dir.path(), "hunt.toml", &hunt);
    // The two eras side by side: each hunt paces itself, so neither slows
    // the other's figures.
    std::thread::scope(|threads| {
        for (era, version) in [("stateless", "2026-07-28"), ("handshake", "2025-11-25")] {
            let scenario = &scenario;
            threads.spawn(move || {
                let target = HttpTarget::start(&["--era", era, "--leak-kb-tool", "add:16"]);
                let run = target.run(scenario.to_str().unwrap(), &[]);
                assert_eq!(run.code, 1, "{era}: {}", run.explain());
                assert_eq!(server_of(&run, "leak-hunt")["protocol_version"], version);
                common::assert_retained(&run.scenario("leak-hunt")["result"], "add", 16.0, 3);
            });
        }
    });
}
