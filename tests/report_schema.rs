//! The JSON report's every key is documented in docs/REPORT.md: a real
//! report, from runs that fill every part of it (calls, churn over HTTP,
//! bad inputs, cold starts), is walked key by key against the page.

mod common;

use std::collections::BTreeSet;

use common::{mcpstorm, run, scenario_file};
use serde_json::Value;

/// Every object key in `value` (the first element standing for an array of
/// objects), with the path it was found at.
fn keys(value: &Value, path: &str, found: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                found.insert((key.clone(), path.to_string()));
                keys(inner, &format!("{path}/{key}"), found);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                keys(first, &format!("{path}[]"), found);
            }
        }
        _ => {}
    }
}

const EVERY_PART: &str = r#"
name = "every-part"
[[phase]]
name = "warmup"
load = { kind = "sequential", calls = 20 }
[[phase]]
name = "churn"
load = { kind = "churn", sessions = 40, calls_per_session = 1, end = "close" }
[[phase]]
name = "bad"
load = { kind = "robustness", rounds = 1 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
[acceptance]
"crashes == 0" = {}
"#;

const COLD: &str = r#"
name = "cold"
[[phase]]
name = "cold"
load = { kind = "coldstart", iterations = 2 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
"#;

#[test]
fn every_key_of_the_report_is_documented() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/REPORT.md"),
    )
    .expect("docs/REPORT.md");
    let dir = tempfile::tempdir().expect("temp dir");
    let every = scenario_file(dir.path(), "every.toml", EVERY_PART);
    let cold = scenario_file(dir.path(), "cold.toml", COLD);
    let server = format!("{} serve --http 127.0.0.1:0 --era handshake", mcpstorm());
    let http = run(&[every.to_str().unwrap_or_default(), "--server-cmd", &server]);
    let stdio = run(&[cold.to_str().unwrap_or_default()]);
    let mut found = BTreeSet::new();
    for run in [&http, &stdio] {
        assert_eq!(run.report()["schema_version"], 1, "{}", run.explain());
        keys(run.report(), "", &mut found);
    }
    let undocumented: Vec<String> = found
        .iter()
        .filter(|(key, _)| !doc.contains(&format!("`{key}`")))
        .map(|(key, path)| format!("{path}/{key}"))
        .collect();
    assert!(
        undocumented.is_empty(),
        "keys of the report docs/REPORT.md does not name: {undocumented:#?}"
    );
}
