//! Secrets given to mcpstorm (--env, --header, a config file, a URL's
//! password) reach the server and appear in no output on any path — the
//! mistakes included — and they can be given without putting them on the
//! command line, where every process on the machine can read them.

mod common;

use std::process::Command;

use common::{HttpTarget, mcpstorm, run};

const SECRET: &str = "sk-live-Zq8Xw3";

/// Everything mcpstorm printed, and its exit code.
fn said(args: &[&str]) -> (i32, String) {
    let output = Command::new(mcpstorm())
        .args(args)
        .output()
        .expect("mcpstorm runs");
    let text = common::said(&output);
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn mistyped_secrets_are_refused_without_being_repeated() {
    // clap's "invalid value '…'" used to repeat the raw value around
    // mcpstorm's own redacted message.
    let no_colon = format!("Authorization Bearer {SECRET}");
    let no_name = format!("={SECRET}");
    let cases: [&[&str]; 4] = [
        &[
            "run",
            "--header",
            &no_colon,
            "--url",
            "http://127.0.0.1:9/mcp",
        ],
        &["run", "--env", &no_name, "--", "true"],
        // Not a name a variable can have: taken for a value typed without NAME=.
        &["run", "--env", SECRET, "--", "true"],
        &[
            "discover",
            "--header",
            &no_colon,
            "--url",
            "http://127.0.0.1:9/mcp",
        ],
    ];
    for args in cases {
        let (code, text) = said(args);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(
            !text.contains(SECRET),
            "{args:?} repeats the secret: {text}"
        );
        assert!(
            text.contains("--header") || text.contains("--env"),
            "{text}"
        );
    }
}

#[test]
fn a_config_file_with_a_wrongly_typed_secret_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let number = "40417730551";
    for (name, entry) in [
        (
            "env",
            format!(r#"{{"command": "true", "env": {{"API_KEY": {number}}}}}"#),
        ),
        (
            "headers",
            format!(r#"{{"url": "http://127.0.0.1:9/mcp", "headers": {{"X-Key": ["{SECRET}"]}}}}"#),
        ),
    ] {
        let file = common::scenario_file(
            dir.path(),
            &format!("{name}.json"),
            &format!(r#"{{"mcpServers": {{"s": {entry}}}}}"#),
        );
        let (code, text) = said(&["run", "--config", &file.to_string_lossy()]);
        assert_eq!(code, 2, "{name}: {text}");
        assert!(
            !text.contains(number) && !text.contains(SECRET),
            "{name}: {text}"
        );
        assert!(text.contains("line 1"), "the place is named: {text}");
    }
}

#[test]
fn a_password_in_the_url_is_sent_and_never_shown() {
    let target = HttpTarget::start(&[]);
    let url = target
        .url
        .replacen("http://", "http://loadtest:hunter2pw@", 1);
    let run = run(&["sequential", "--url", &url, "--pid", &target.pid()]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let report = run.report().to_string();
    for (what, text) in [
        ("stdout", &run.stdout),
        ("stderr", &run.stderr),
        ("report", &report),
    ] {
        assert!(!text.contains("hunter2pw"), "{what} shows the password");
    }
    let shown = run.report()["target"]["command"]
        .as_str()
        .unwrap_or_default();
    assert!(
        shown.contains("http://loadtest:<redacted>@127.0.0.1:"),
        "{shown}"
    );
}

#[test]
fn secrets_can_be_given_off_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    // --env NAME takes the value from mcpstorm's own environment; --env-file
    // reads NAME=VALUE lines. The server exits (a setup error) unless both
    // arrive.
    let env_file = common::scenario_file(
        dir.path(),
        "server.env",
        &format!("# the server's keys\nFILE_KEY={SECRET}-file\n\n"),
    );
    let server = format!(
        "test \"$FROM_ENV\" = \"{SECRET}-env\" && test \"$FILE_KEY\" = \"{SECRET}-file\" \
         || exit 9; exec {} serve",
        mcpstorm()
    );
    let output = Command::new(mcpstorm())
        .env("FROM_ENV", format!("{SECRET}-env"))
        .args([
            "run",
            "--headless",
            "sequential",
            "--env",
            "FROM_ENV",
            "--env-file",
        ])
        .arg(&env_file)
        .args(["--", "sh", "-c", &server])
        .output()
        .expect("mcpstorm runs");
    let text = common::said(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains(&format!("{SECRET}-")), "{text}");

    // --header-file reads 'Name: value' lines.
    let token = "hdr-f1le-t0ken";
    let target = HttpTarget::start(&["--require-bearer", token]);
    let header_file = common::scenario_file(
        dir.path(),
        "headers",
        &format!("Authorization: Bearer {token}\n"),
    );
    let header_file = header_file.to_string_lossy().into_owned();
    let run = target.run("sequential", &["--header-file", &header_file]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(!run.stdout.contains(token) && !run.stderr.contains(token));

    // A variable that is not set is named (names are not secrets)…
    let (code, text) = said(&["run", "--env", "NOT_SET_ANYWHERE_XYZ", "--", "true"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("NOT_SET_ANYWHERE_XYZ"), "{text}");
    // …and a bad line in a file is named by its line, not quoted.
    let broken = common::scenario_file(dir.path(), "broken.env", &format!("OK=1\n{SECRET}\n"));
    let (code, text) = said(&["run", "--env-file", &broken.to_string_lossy(), "--", "true"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("line 2") && !text.contains(SECRET), "{text}");
}

#[test]
fn a_child_given_a_secret_in_its_arguments_shows_it_redacted() {
    // A wrapper hands the key to a helper process on its command line, as
    // `sh -c '… $KEY'` does: the tree's command lines (the report's, the
    // enlarged Process tree's) hide it, by value and by the argument's name.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let server = format!(
        "python3 -c 'import time; time.sleep(60)' \"$API_KEY\" --auth-token=plain-visible & \
         exec {} serve",
        mcpstorm()
    );
    let output = Command::new(mcpstorm())
        .env("API_KEY", SECRET)
        .args([
            "run",
            "--headless",
            "sequential",
            "--env",
            "API_KEY",
            "--report",
        ])
        .arg(&report)
        .args(["--", "sh", "-c", &server])
        .output()
        .expect("mcpstorm runs");
    let text = common::said(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let written = std::fs::read_to_string(&report).expect("a report");
    assert!(!written.contains(SECRET), "{written}");
    let report: serde_json::Value = serde_json::from_str(&written).expect("JSON");
    let commands: Vec<&str> = report["scenarios"][0]["result"]["resources"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["command"].as_str())
        .collect();
    let helper = commands
        .iter()
        .find(|c| c.contains("time.sleep(60)"))
        .unwrap_or_else(|| panic!("no helper among {commands:?}"));
    assert!(
        helper.ends_with("<redacted> --auth-token=<redacted>"),
        "{helper}"
    );
    // The server itself is shown whole.
    assert!(
        commands.iter().any(|c| c.ends_with(" serve")),
        "{commands:?}"
    );
}

#[test]
fn a_bearer_token_comes_from_a_file_or_the_environment_and_is_never_shown() {
    let token = "b3arer-t0ken-xyz";
    let target = HttpTarget::start(&["--require-bearer", token]);
    // Without it, the server refuses (the check can fail).
    let refused = target.run("sequential", &[]);
    assert_eq!(refused.code, 2, "{}", refused.explain());
    // From a file: its first line that is not a comment.
    let dir = tempfile::tempdir().unwrap();
    let file = common::scenario_file(dir.path(), "token", &format!("# staging\n{token}\n"));
    let from_file = target.run(
        "sequential",
        &["--bearer-token-file", file.to_str().unwrap()],
    );
    assert_eq!(from_file.code, 0, "{}", from_file.explain());
    let everything = format!(
        "{}{}{}",
        from_file.stdout,
        from_file.stderr,
        from_file.report()
    );
    assert!(!everything.contains(token), "the token was shown");
    // From the environment, off the command line.
    let output = Command::new(mcpstorm())
        .env("STAGING_TOKEN", token)
        .args([
            "run",
            "--headless",
            "sequential",
            "--bearer-token-env",
            "STAGING_TOKEN",
            "--url",
            &target.url,
            "--pid",
            &target.pid(),
        ])
        .output()
        .expect("mcpstorm runs");
    let text = common::said(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains(token), "{text}");
    // A variable not set is named, and nothing is sent.
    let (code, text) = said(&[
        "run",
        "--bearer-token-env",
        "NOT_SET_XYZ_TOKEN",
        "--url",
        &target.url,
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("--bearer-token-env NOT_SET_XYZ_TOKEN: no token"),
        "{text}"
    );
}
