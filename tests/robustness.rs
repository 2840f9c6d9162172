//! The robustness scenario: bad inputs sent raw to a real server over real
//! pipes and sockets. The built-in target answers each as the
//! specifications name, in both eras and over both transports; the
//! `--fragile` target (a careless server) fails it, and the report says, per
//! bad input, what it did.

mod common;

use common::{f64_at, mcpstorm, run, run_against_target};

/// Per bad input: (sent, as expected, the answers seen).
fn tallies(run: &common::Run) -> Vec<(String, u64, u64, Vec<String>)> {
    let phase = &run.scenario("robustness")["result"]["phases"][0];
    phase["bad_inputs"]
        .as_array()
        .unwrap_or_else(|| panic!("no bad inputs reported\n{}", run.explain()))
        .iter()
        .map(|t| {
            let answers = t["answers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a[0].as_str().unwrap().to_string())
                .collect();
            (
                t["input"].as_str().unwrap().to_string(),
                f64_at(t, "/sent") as u64,
                f64_at(t, "/as_expected") as u64,
                answers,
            )
        })
        .collect()
}

fn answers_to<'a>(tallies: &'a [(String, u64, u64, Vec<String>)], input: &str) -> &'a [String] {
    &tallies
        .iter()
        .find(|t| t.0 == input)
        .unwrap_or_else(|| panic!("{input} not reported: {tallies:?}"))
        .3
}

fn assert_all_handled(run: &common::Run, inputs: usize) {
    assert_eq!(run.code, 0, "{}", run.explain());
    let tallies = tallies(run);
    assert_eq!(tallies.len(), inputs, "{tallies:?}");
    for (input, sent, as_expected, answers) in &tallies {
        assert_eq!(*sent, 3, "{input}: three rounds");
        assert_eq!(as_expected, sent, "{input}: {answers:?}");
    }
    // A well-formed call after every bad input, every one answered.
    let total = &run.scenario("robustness")["result"]["total"];
    assert_eq!(f64_at(total, "/outcomes/ok"), 3.0 * inputs as f64);
}

#[test]
fn the_builtin_target_answers_every_bad_input_as_the_specification_names() {
    // Stateless era over stdio: no initialize, so 8 of the 9 inputs apply.
    let run = run_against_target(&["robustness"], &[]);
    assert_all_handled(&run, 8);
    let stateless = tallies(&run);
    assert_eq!(answers_to(&stateless, "malformed JSON"), ["error -32700"]);
    assert_eq!(answers_to(&stateless, "unknown method"), ["error -32601"]);
    assert_eq!(
        answers_to(&stateless, "tools/call with invalid arguments"),
        ["a tool error"]
    );
    let notes = run.scenario("robustness")["result"]["notes"].to_string();
    assert!(notes.contains("request before initialize"), "{notes}");

    // Handshake era over stdio: the request before initialize goes to a
    // fresh server process, which refuses it.
    let run = run_against_target(&["robustness"], &["--era", "handshake"]);
    assert_all_handled(&run, 9);
    assert_eq!(
        answers_to(&tallies(&run), "request before initialize"),
        ["error -32600"]
    );
}

#[test]
fn over_http_in_both_eras_too() {
    for era in ["stateless", "handshake"] {
        let server = format!("{} serve --http 127.0.0.1:0 --era {era}", mcpstorm());
        let run = run(&["robustness", "--server-cmd", &server]);
        let inputs = if era == "handshake" { 9 } else { 8 };
        assert_all_handled(&run, inputs);
        // Nothing the probes drew from the server counts against the wire.
        let wire = &run.scenario("robustness")["result"]["wire"];
        assert_eq!(f64_at(wire, "/http_errors"), 0.0, "{era}: {wire}");
        assert_eq!(
            f64_at(wire, "/correlation_violations"),
            0.0,
            "{era}: {wire}"
        );
    }
}

#[test]
fn a_fragile_server_fails_and_the_report_says_what_it_did_with_each_input() {
    for transport in ["stdio", "http"] {
        let run = match transport {
            "stdio" => run_against_target(&["robustness"], &["--fragile"]),
            _ => {
                let server = format!("{} serve --http 127.0.0.1:0 --fragile", mcpstorm());
                run(&["robustness", "--server-cmd", &server])
            }
        };
        assert_eq!(run.code, 1, "{transport}: {}", run.explain());
        let failed = run.failed("robustness");
        assert!(
            failed.contains(&"bad_inputs_mishandled == 0".to_string())
                && failed.contains(&"crashes == 0".to_string()),
            "{transport}: {failed:?}"
        );
        let tallies = tallies(&run);
        // It takes any jsonrpc version and any method…
        assert_eq!(answers_to(&tallies, "wrong jsonrpc version"), ["a result"]);
        assert_eq!(answers_to(&tallies, "unknown method"), ["a result"]);
        // …still refuses what it cannot parse…
        let malformed = answers_to(&tallies, "malformed JSON");
        assert!(malformed[0].ends_with("error -32700"), "{malformed:?}");
        // …and dies on the 4 MiB request: the probe sees the connection go.
        let huge = answers_to(&tallies, "very large request");
        assert!(
            huge[0].starts_with("connection lost"),
            "{transport}: {huge:?}"
        );
        let result = &run.scenario("robustness")["result"];
        assert_eq!(f64_at(result, "/crashes"), 1.0, "{transport}");
        let notes = result["notes"].to_string();
        assert!(notes.contains("overflowed"), "{transport}: {notes}");
    }
}

#[test]
fn robustness_load_keys_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_file(
        dir.path(),
        "bad.toml",
        r#"
name = "bad"
[[phase]]
name = "p"
load = { kind = "robustness", rounds = 0 }
[[call]]
tool = "echo"
arguments = { message = "x" }
"#,
    );
    let output = std::process::Command::new(mcpstorm())
        .args(["check", scenario.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("phase[0].load.rounds"),
        "{stderr}"
    );
}
