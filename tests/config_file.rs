//! A server entry from an MCP client config runs unchanged; its environment
//! reaches the server and never appears in output or report.

mod common;

use common::{mcpstorm, run};

#[test]
fn a_config_entry_runs_with_its_env_and_keeps_it_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp.json");
    // The server only starts when the token arrived (compared with a file, so
    // the secret is not in the command line): proof the env was passed.
    let expected = dir.path().join("token");
    std::fs::write(&expected, "s3cret-value").unwrap();
    let check = format!(
        "test \"$API_TOKEN\" = \"$(cat {})\" && exec {} serve",
        expected.display(),
        mcpstorm()
    );
    let entry = serde_json::json!({"mcpServers": {
        "target": {
            "command": "sh",
            "args": ["-c", check],
            "env": {"API_TOKEN": "s3cret-value"}
        },
        "other": {"command": "false"}
    }});
    std::fs::write(&config, entry.to_string()).unwrap();
    let args = [
        "concurrent",
        "--config",
        config.to_str().unwrap(),
        "--server",
        "target",
    ];
    let run = run(&args);
    assert_eq!(run.code, 0, "{}", run.explain());
    let report = run.report().to_string();
    assert!(report.contains("API_TOKEN=<redacted>"), "{report}");
    for text in [&report, &run.stdout, &run.stderr] {
        assert!(!text.contains("s3cret-value"), "the secret leaked: {text}");
    }
}

#[test]
fn an_unknown_entry_is_a_setup_error_listing_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp.json");
    std::fs::write(
        &config,
        r#"{"mcpServers": {"a": {"command": "x"}, "b": {"command": "y"}}}"#,
    )
    .unwrap();
    let output = std::process::Command::new(mcpstorm())
        .args(["run", "--config", config.to_str().unwrap(), "--server", "c"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no server named `c`") && stderr.contains("a, b"),
        "{stderr}"
    );
}
