//! mcpstorm's output files read by the programs users read them with,
//! installed by `bash tests/consumers/install.sh` (not part of `cargo test`:
//! run `cargo test --test consumers` after it; .ci/run does).
//!
//! JUnit: validated against tests/consumers/junit.xsd by Python's
//! `xmlschema`, and read back by `junitparser`, whose counts and cases must
//! be the JSON report's criteria.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{mcpstorm, run, scenario_file};
use serde_json::Value;

/// The consumers' Python, or a panic that says how to install it.
fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".consumers/py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash tests/consumers/install.sh` first",
        python.display()
    );
    python
}

/// Validate `junit` against the schema and read it with junitparser: what
/// it read, as JSON; or the validator's complaint.
fn read_by_consumers(junit: &Path) -> Result<Value, String> {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers/junit.xsd");
    let script = r#"
import json, sys
import junitparser, xmlschema
schema, path = sys.argv[1], sys.argv[2]
try:
    xmlschema.XMLSchema(schema).validate(path)
except Exception as error:
    print("INVALID: " + str(error).splitlines()[0]); sys.exit(3)
suites = []
for suite in junitparser.JUnitXml.fromfile(path):
    cases = []
    for case in suite:
        results = [(type(r).__name__, r.message or "") for r in case.result]
        cases.append({"name": case.name, "classname": case.classname,
                      "result": results[0][0] if results else "passed",
                      "message": results[0][1] if results else ""})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures,
                   "errors": suite.errors, "skipped": suite.skipped,
                   "properties": {p.name: p.value for p in suite.properties()},
                   "cases": cases})
print(json.dumps(suites))
"#;
    let output = Command::new(python())
        .args(["-c", script])
        .arg(schema)
        .arg(junit)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_str(&stdout).map_err(|e| format!("{e}: {stdout}"))
}

#[test]
fn junit_files_are_valid_and_read_back_as_the_report_says() {
    // Two scenarios: one whose latency criterion fails and whose memory
    // criterion cannot be measured over HTTP without the server's process,
    // one that passes.
    let dir = tempfile::tempdir().unwrap();
    let slow = scenario_file(
        dir.path(),
        "slow.toml",
        r#"
name = "slow"
[[phase]]
name = "load"
load = { kind = "sequential", calls = 30 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"p95 <= 2" = { about = "answers within 2 ms" }
"success_rate == 1" = {}
"rss_growth_mb <= 50" = {}
"#,
    );
    let target = common::HttpTarget::start(&["--latency-ms", "5"]);
    let junit = dir.path().join("junit.xml");
    let out = format!("junit={}", junit.display());
    let run = run(&[
        slow.to_str().unwrap(),
        "sequential",
        "--url",
        &target.url,
        "--out",
        &out,
    ]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let read = read_by_consumers(&junit).unwrap_or_else(|e| panic!("{e}"));
    let suites = read.as_array().expect("suites");
    assert_eq!(suites.len(), 2, "{read}");
    for (suite, scenario) in suites
        .iter()
        .zip(run.report()["scenarios"].as_array().unwrap())
    {
        assert_eq!(suite["name"], scenario["name"]);
        let criteria = scenario["result"]["criteria"].as_array().unwrap();
        let cases = suite["cases"].as_array().unwrap();
        assert_eq!(cases.len(), criteria.len() + 1, "{suite}");
        assert_eq!(cases[0]["name"], "the run completes");
        for (case, criterion) in cases[1..].iter().zip(criteria) {
            assert_eq!(case["name"], criterion["expression"]);
            let expected = match criterion["state"].as_str() {
                Some("PASS") => "passed",
                Some("NOT_MEASURED") => "Skipped",
                _ => "Failure",
            };
            assert_eq!(case["result"], expected, "{case} vs {criterion}");
        }
        let count = |state: &str| criteria.iter().filter(|c| c["state"] == state).count();
        assert_eq!(suite["failures"], count("FAIL"), "{suite}");
        assert_eq!(suite["skipped"], count("NOT_MEASURED"), "{suite}");
        assert_eq!(suite["properties"]["transport"], "http");
    }
    let slow_cases = suites[0]["cases"].as_array().unwrap();
    assert_eq!(slow_cases[1]["result"], "Failure", "{read}");
    assert!(
        slow_cases[1]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("p95 <= 2: ") && m.ends_with(" against 2")),
        "{read}"
    );
    assert_eq!(slow_cases[3]["result"], "Skipped", "{read}");
    assert_eq!(suites[1]["failures"], 0, "{read}");

    // The validator can fail: a case without its classname is refused.
    let text = std::fs::read_to_string(&junit).unwrap();
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, text.replacen("classname=", "class=", 1)).unwrap();
    let refused = read_by_consumers(&broken).expect_err("refused");
    assert!(refused.contains("INVALID"), "{refused}");
}

#[test]
fn a_run_that_could_not_start_is_an_error_case_consumers_read() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let out = format!("junit={}", junit.display());
    let run = run(&[
        "sequential",
        "--out",
        &out,
        "--",
        "sh",
        "-c",
        "printf '<oops> & \\001 ]]>\\n' >&2; exit 3",
    ]);
    assert_eq!(run.code, 2, "{}", run.explain());
    let read = read_by_consumers(&junit).unwrap_or_else(|e| panic!("{e}"));
    let suite = &read[0];
    assert_eq!(
        (&suite["errors"], &suite["tests"]),
        (&1.into(), &1.into()),
        "{read}"
    );
    assert_eq!(suite["cases"][0]["result"], "Error", "{read}");
    let message = suite["cases"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("<oops> & "), "{message}");
    // Rendered again later from the saved report, it reads the same.
    let again = dir.path().join("again.xml");
    let rendered = Command::new(mcpstorm())
        .arg("report")
        .arg(run.dir.path().join("report.json"))
        .arg("--out")
        .arg(format!("junit={}", again.display()))
        .output()
        .expect("runs");
    assert!(rendered.status.success(), "{}", common::said(&rendered));
    assert_eq!(read_by_consumers(&again), Ok(read));
}
