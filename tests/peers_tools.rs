//! mcpstorm against third-party servers with tools of their own, none of
//! them `echo`: the official Node servers `server-filesystem` and
//! `server-memory`, `mcp-time` (a Go server shipped as an npm binary) and a
//! server on the standalone `fastmcp` package (Python), over stdio and
//! Streamable HTTP — each as a new user would meet it: the built-in scenarios
//! stop at once with a pointer, generated arguments that a tool refuses fail
//! the run, the user's values make it pass, and nothing that writes, deletes
//! or reaches out is called unless named.
//!
//! Install them first: `bash tests/peers/install.sh`; then `cargo test --test
//! peers_tools`. A missing peer fails the test with that command.

mod common;

use std::path::Path;
use std::time::Duration;

use common::peers::{peer, repo, run_against, run_over_http};
use common::{f64_at, scenario_file};

fn node_server(package: &str) -> String {
    peer(&format!(
        "node/node_modules/@modelcontextprotocol/{package}/dist/index.js"
    ))
}

fn mcp_time() -> String {
    peer("node/node_modules/mcp-time-linux-x64/bin/mcp-time")
}

fn fastmcp() -> Vec<String> {
    vec![
        peer("py-fastmcp/bin/python"),
        repo()
            .join("tests/peers/fastmcp_server.py")
            .to_string_lossy()
            .into_owned(),
    ]
}

/// The files under `dir`, sorted: what a server may have written there.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn labels_called(run: &common::Run, scenario: &str) -> Vec<String> {
    run.scenario(scenario)["result"]["per_label"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| f64_at(l, "/calls") > 0.0)
        .filter_map(|l| l["label"].as_str().map(String::from))
        .collect()
}

#[test]
fn server_filesystem_fails_on_made_up_paths_and_passes_on_real_ones() {
    let root = tempfile::tempdir().expect("temp dir");
    let root_path = root.path().canonicalize().expect("canonical");
    let file = root_path.join("readme.txt");
    std::fs::write(&file, "hello\n").expect("write");
    let server = vec![
        "node".to_string(),
        node_server("server-filesystem"),
        root_path.to_string_lossy().into_owned(),
    ];

    // The built-in scenarios call `echo`: the run stops at once, pointing
    // at what fits this server.
    let builtins = run_against(&[], &[], &server);
    assert_eq!(builtins.code, 2, "{}", builtins.explain());
    assert!(
        builtins.explain().contains("mcpstorm init"),
        "{}",
        builtins.explain()
    );
    assert_eq!(
        builtins.report()["scenarios"].as_array().map(Vec::len),
        Some(1)
    );

    // Generated paths do not exist: most calls fail, and the run fails
    // (it passed with 360 of 450 tool errors), naming the tools.
    let made_up = run_against(&["tools"], &[], &server);
    assert_eq!(made_up.code, 1, "{}", made_up.explain());
    assert!(
        made_up
            .failed("tools")
            .contains(&"min_success_rate_per_label > 0".to_string()),
        "{}",
        made_up.explain()
    );
    assert!(
        made_up.stdout.contains("never succeeded:"),
        "{}",
        made_up.stdout
    );

    // Real paths, given to the automatic mix: every tool it calls succeeds.
    let dir = tempfile::tempdir().expect("temp dir");
    let (root_s, file_s) = (root_path.display().to_string(), file.display().to_string());
    let text = format!(
        r#"name = "fs"
[[phase]]
name = "warmup"
load = {{ kind = "concurrent", workers = 4, calls = 100 }}
[[phase]]
name = "load"
load = {{ kind = "concurrent", workers = 4, calls = 400 }}
[[call]]
auto = true
arguments = {{ path = {root_s:?}, pattern = "*.txt" }}
[call.tool_arguments]
read_file = {{ path = {file_s:?} }}
read_text_file = {{ path = {file_s:?} }}
read_media_file = {{ path = {file_s:?} }}
get_file_info = {{ path = {file_s:?} }}
read_multiple_files = {{ paths = [{file_s:?}] }}
[acceptance]
"min_success_rate_per_label == 1" = {{}}
"crashes == 0" = {{}}
"#
    );
    let scenario = scenario_file(dir.path(), "fs.toml", &text);
    let real = run_against(&[&scenario.to_string_lossy()], &[], &server);
    assert_eq!(real.code, 0, "{}", real.explain());
    let called = labels_called(&real, "fs");
    assert!(called.len() >= 8, "the read-only tools: {called:?}");
    for never in ["write_file", "edit_file", "move_file", "create_directory"] {
        assert!(
            !called.contains(&never.to_string()),
            "{never} called: {called:?}"
        );
    }
    // The server's own word: nothing was written, moved or made.
    assert_eq!(files_in(&root_path), vec!["readme.txt"]);
}

#[test]
fn server_memory_is_read_never_written_by_the_automatic_mix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let memory = dir.path().join("memory.jsonl");
    let env = format!("MEMORY_FILE_PATH={}", memory.display());
    let server = vec!["node".to_string(), node_server("server-memory")];
    let run = run_against(&["tools"], &["--env", &env], &server);
    assert_eq!(run.code, 0, "{}", run.explain());
    let mut called = labels_called(&run, "tools");
    called.sort();
    assert_eq!(called, vec!["open_nodes", "read_graph", "search_nodes"]);
    // create_entities, add_observations, delete_* would have written it.
    assert!(
        std::fs::read_to_string(&memory)
            .unwrap_or_default()
            .is_empty(),
        "the knowledge graph was written"
    );
    // Named on the command line, a tool that writes is called.
    let named = run_against(
        &["tools"],
        &["--env", &env, "--include", "create_entities"],
        &server,
    );
    assert!(labels_called(&named, "tools").contains(&"create_entities".to_string()));
    assert!(
        !std::fs::read_to_string(&memory)
            .unwrap_or_default()
            .is_empty()
    );
}

/// A sequential phase with a duration, and the arguments mcp-time's tools need.
const TIMED: &str = r#"
name = "timed"
[[phase]]
name = "load"
load = { kind = "sequential", duration_s = 2 }
[[call]]
auto = true
[call.tool_arguments]
add_time = { duration = "1h" }
compare_time = { time_a = "2026-01-01T00:00:00Z", time_b = "2026-06-01T00:00:00Z" }
[acceptance]
"min_success_rate_per_label == 1" = {}
"#;

#[test]
fn a_go_server_over_stdio_and_http_ends_a_timed_phase_on_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario_file(dir.path(), "timed.toml", TIMED);
    let scenario = scenario.to_string_lossy();
    let stdio = run_against(&[&scenario], &[], &[mcp_time()]);
    let http = run_over_http(&[&scenario], &[], |port| {
        vec![
            mcp_time(),
            "--transport".into(),
            "stream".into(),
            "--address".into(),
            format!("http://127.0.0.1:{port}/mcp"),
        ]
    });
    for (transport, run) in [("stdio", &stdio), ("http", &http)] {
        assert_eq!(run.code, 0, "{transport}: {}", run.explain());
        let result = &run.scenario("timed")["result"];
        assert!(
            f64_at(result, "/total/calls") > 10.0,
            "{transport}: {result}"
        );
        // The phase ends at its deadline: the whole run, server start and
        // stop included, well within five times it.
        assert!(
            run.wall < Duration::from_secs(10),
            "{transport}: ran {:?}",
            run.wall
        );
        assert_eq!(result["server"]["name"], "mcp-time");
    }
    // A handshake-era server: the server/discover probe costs it no timeout
    // (30 s by default) — the whole discover, start to stop, is quick.
    let started = std::time::Instant::now();
    let discover = std::process::Command::new(common::mcpstorm())
        .args(["discover", "--", &mcp_time()])
        .output()
        .expect("mcpstorm runs");
    assert!(discover.status.success(), "{}", common::said(&discover));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "discover took {:?}",
        started.elapsed()
    );
    assert!(common::said(&discover).contains("protocol 2025-03-26"));
}

#[test]
fn a_fastmcp_server_never_gets_its_open_world_tool_over_stdio_or_http() {
    // `fetch` is read-only but open-world; a call to it exits the server
    // (code 3), so a crash would show it was called.
    let stdio = run_against(&["tools"], &[], &fastmcp());
    let http = run_over_http(&["tools"], &[], |port| {
        let mut command = fastmcp();
        command.extend(["http".into(), port.to_string()]);
        command
    });
    for (transport, run) in [("stdio", &stdio), ("http", &http)] {
        assert_eq!(run.code, 0, "{transport}: {}", run.explain());
        assert_eq!(labels_called(run, "tools"), vec!["echo"], "{transport}");
        let result = &run.scenario("tools")["result"];
        assert_eq!(f64_at(result, "/crashes"), 0.0, "{transport}");
        assert_eq!(result["server"]["protocol_version"], "2026-07-28");
    }
}
