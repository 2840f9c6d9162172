//! A bug inside mcpstorm (a panicking task) ends the scenario as an error
//! saying so; it used to be caught by the runtime and ignored, and a run that
//! lost a worker's calls could still pass.

mod common;

use std::process::Command;

use common::mcpstorm;

#[test]
fn a_panicking_worker_makes_the_scenario_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let output = Command::new(mcpstorm())
        .env("MCPSTORM_INJECT_PANIC_AT_CALL", "20")
        .args(["run", "--headless", "concurrent", "--report"])
        .arg(&report)
        .args(["--", mcpstorm(), "serve"])
        .output()
        .expect("mcpstorm runs");
    let said = common::said(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report is written")).unwrap();
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["verdict"], "ERROR", "{scenario}");
    let error = scenario["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("failed inside") && error.contains("injected panic at call 20"),
        "{error}"
    );
}
