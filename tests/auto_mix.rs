//! Schema-driven calls: `discover` lists what a server offers, and an
//! automatic mix calls its read-only tools (and only those, unless a tool is
//! named) with arguments generated from their schemas.

mod common;

use std::process::Command;

use common::{mcpstorm, run_against_target, run_text_against_target};
use serde_json::Value;

fn labels(run: &common::Run, scenario: &str) -> Vec<String> {
    run.scenario(scenario)["result"]["per_label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn discover_lists_tools_with_schemas_resources_and_prompts() {
    let output = Command::new(mcpstorm())
        .args(["discover", "--json", "--", mcpstorm(), "serve"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let tools = doc["catalog"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["echo", "add", "sleep", "alloc"]);
    let alloc = tools.iter().find(|t| t["name"] == "alloc").unwrap();
    assert_eq!(alloc["read_only"], false);
    assert_eq!(alloc["input_schema"]["required"][0], "kb");
    assert_eq!(doc["catalog"]["resources"][0]["uri"], "mcpstorm://status");
    assert_eq!(doc["catalog"]["prompts"][0]["name"], "greet");
    assert_eq!(doc["server"]["protocol_version"], "2026-07-28");
    let text = Command::new(mcpstorm())
        .args(["discover", "--", mcpstorm(), "serve"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("alloc  [may write]"), "{text}");
    assert!(text.contains("kb: integer* minimum=0"), "{text}");
}

#[test]
fn the_tools_scenario_calls_only_read_only_tools() {
    let run = run_against_target(&["tools"], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let called = labels(&run, "tools");
    assert_eq!(
        called,
        ["echo", "add", "sleep"],
        "alloc writes: never called unasked"
    );
    // Generated arguments are valid: every call succeeded.
    let ok = run.scenario("tools")["result"]["total"]["success_rate"].as_f64();
    assert_eq!(ok, Some(1.0), "{}", run.explain());
}

#[test]
fn a_tool_named_in_include_is_called_and_exclude_drops_one() {
    let run = run_text_against_target(
        r#"
name = "auto"
[[phase]]
name = "load"
load = { kind = "sequential", calls = 40 }
[[call]]
auto = true
include = ["alloc"]
exclude = ["sleep"]
[acceptance]
"success_rate(load, alloc) == 1" = {}
"#,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(labels(&run, "auto"), ["echo", "add", "alloc"]);
}
