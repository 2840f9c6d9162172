//! A new user's own server, with none of the built-in scenarios' tools: the
//! run stops at once with a pointer, `mcpstorm init` writes a scenario for the
//! server's real tools, and the automatic mix takes the user's values and
//! choices. The server (tests/servers/stranger.py) logs every call it gets:
//! what the tests check against is its own record.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{mcpstorm, run, said, scenario_file};
use serde_json::Value;

fn stranger() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/servers/stranger.py")
        .to_string_lossy()
        .into_owned()
}

/// The calls the server got, as it logged them: (tool, arguments).
fn calls_logged(log: &Path) -> Vec<(String, Value)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let call: Value = serde_json::from_str(line).expect("the server logs JSON");
            (
                call["tool"].as_str().unwrap_or("").to_string(),
                call["arguments"].clone(),
            )
        })
        .collect()
}

fn tools_called(calls: &[(String, Value)]) -> BTreeSet<&str> {
    calls.iter().map(|(tool, _)| tool.as_str()).collect()
}

/// `mcpstorm run ARGS -- python3 stranger.py`, the server logging to `log`.
fn run_stranger(args: &[&str], log: &Path) -> common::Run {
    let env = format!("CALL_LOG={}", log.display());
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--env", &env, "--", "python3"]);
    let server = stranger();
    all.push(&server);
    run(&all)
}

#[test]
fn a_server_without_the_builtin_tools_stops_at_once_with_a_pointer() {
    // Every built-in scenario: before, each ran to its end, measuring
    // "Tool echo not found" (25 minutes in all against a real server).
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("calls.log");
    let run = run_stranger(&[], &log);
    let said = run.explain();
    assert_eq!(run.code, 2, "a setup error: {said}");
    for words in [
        "echo",
        "lookup, count, read_file, note, fetch",
        "mcpstorm init",
    ] {
        assert!(said.contains(words), "says {words:?}: {said}");
    }
    let scenarios = run.report()["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 1, "stops at the first: {said}");
    assert_eq!(scenarios[0]["verdict"], "ERROR");
    assert!(calls_logged(&log).is_empty(), "no call was sent");

    // A cold start opens no session for the scenario: its first, untimed
    // start checks the tools.
    let run = run_stranger(&["coldstart"], &log);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.explain().contains("tool(s) echo"), "{}", run.explain());
    assert!(calls_logged(&log).is_empty(), "no call was sent");

    // A prompt the server does not list is caught the same way.
    let text = "name = \"p\"\n[[phase]]\nname = \"load\"\nload = { kind = \"sequential\", calls = 5 }\n\
                [[call]]\nmethod = \"prompts/get\"\nprompt = \"nope\"\n";
    let file = scenario_file(dir.path(), "p.toml", text);
    let run = run_stranger(&[&file.to_string_lossy()], &log);
    assert_eq!(run.code, 2, "{}", run.explain());
    let said = run.explain();
    assert!(
        said.contains("prompt(s) nope") && said.contains("summary"),
        "{said}"
    );
}

#[test]
fn init_writes_a_scenario_for_the_real_tools_that_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("stranger.toml");
    let init = |extra: &[&str]| {
        Command::new(mcpstorm())
            .arg("init")
            .args(["--output", &file.to_string_lossy()])
            .args(extra)
            .args(["--", "python3", &stranger()])
            .output()
            .expect("mcpstorm runs")
    };
    let written = init(&[]);
    assert!(written.status.success(), "{}", said(&written));
    let check = Command::new(mcpstorm())
        .args(["check", &file.to_string_lossy()])
        .output()
        .expect("mcpstorm runs");
    assert!(check.status.success(), "{}", said(&check));
    // Never over a file the user may have filled in.
    let again = init(&[]);
    assert_eq!(again.status.code(), Some(2), "{}", said(&again));
    assert!(said(&again).contains("--force"), "{}", said(&again));
    assert!(init(&["--force"]).status.success());

    // As written, read_file's path is made up: the file does not exist, the
    // server answers it with errors, and the success criterion fails.
    let log = dir.path().join("calls.log");
    let as_written = run_stranger(&[&file.to_string_lossy()], &log);
    assert_eq!(as_written.code, 1, "{}", as_written.explain());
    assert_eq!(
        as_written.failed("stranger"),
        vec!["success_rate >= 0.99"],
        "{}",
        as_written.explain()
    );
    let calls = calls_logged(&log);
    assert_eq!(
        tools_called(&calls),
        BTreeSet::from(["count", "lookup", "read_file"]),
        "the read-only tools, never `note` (may write) or `fetch` (open world)"
    );
    let keys: BTreeSet<&str> = calls
        .iter()
        .filter(|(tool, _)| tool == "lookup")
        .filter_map(|(_, args)| args["key"].as_str())
        .collect();
    assert_eq!(keys, BTreeSet::from(["alpha"]), "the schema's example");

    // With a real path put in, as the file asks, it passes.
    let real = dir.path().join("real.txt");
    std::fs::write(&real, "hello").expect("write");
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains("put real values in: path"), "{text}");
    std::fs::write(
        &file,
        text.replace(
            "\"mcpstorm 1\"",
            &format!("{:?}", real.display().to_string()),
        ),
    )
    .expect("write");
    std::fs::remove_file(&log).ok();
    let filled = run_stranger(&[&file.to_string_lossy()], &log);
    assert_eq!(filled.code, 0, "{}", filled.explain());
    assert_eq!(
        calls_logged(&log).len(),
        1100,
        "100 warm-up calls, 1000 load"
    );
}

#[test]
fn the_automatic_mix_takes_given_values_and_command_line_choices() {
    let dir = tempfile::tempdir().expect("temp dir");
    let real = dir.path().join("real.txt");
    std::fs::write(&real, "hello").expect("write");
    let text = format!(
        "name = \"auto\"\n[[phase]]\nname = \"load\"\nload = {{ kind = \"sequential\", calls = 60 }}\n\
         [[call]]\nauto = true\narguments = {{ path = {path:?} }}\n\
         [call.tool_arguments]\nlookup = {{ key = \"k{{seq}}\" }}\n\
         [acceptance]\n\"min_success_rate_per_label == 1\" = {{}}\n",
        path = real.display().to_string()
    );
    let file = scenario_file(dir.path(), "auto.toml", &text);
    let log = dir.path().join("calls.log");
    let run = run_stranger(
        &[
            &file.to_string_lossy(),
            "--include",
            "note",
            "--exclude",
            "count",
        ],
        &log,
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let calls = calls_logged(&log);
    assert_eq!(
        tools_called(&calls),
        BTreeSet::from(["lookup", "note", "read_file"]),
        "note by --include, count left out by --exclude, never fetch"
    );
    for (tool, args) in &calls {
        match tool.as_str() {
            // `path` went to every tool that declares it.
            "read_file" | "note" => assert_eq!(args["path"], real.display().to_string()),
            "lookup" => assert!(
                args["key"]
                    .as_str()
                    .is_some_and(|k| k.starts_with('k') && k[1..].parse::<u64>().is_ok()),
                "{args}"
            ),
            _ => {}
        }
    }

    // --include names a tool the server does not have: a setup error.
    let run = run_stranger(&[&file.to_string_lossy(), "--include", "nope"], &log);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.explain().contains("`nope`"), "{}", run.explain());
    // --include with no automatic mix to apply to.
    let run = run_stranger(&["sequential", "--include", "note"], &log);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.explain().contains("auto = true"), "{}", run.explain());
}
