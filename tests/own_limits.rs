//! mcpstorm's own limits are never blamed on the server: it raises its
//! soft limit on open files, says so when it still runs out, and leaves the
//! servers it starts the limit they would have had.

mod common;

use std::process::Command;

use common::{HttpTarget, mcpstorm, scenario_file};

/// 400 workers over HTTP: 400 connections at once, above a soft limit of 256.
const WIDE: &str = r#"
name = "wide"
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 400, calls = 2000 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
[acceptance]
"success_rate == 1" = {}
"crashes == 0" = {}
"#;

/// `mcpstorm ARGS` under `ulimit LIMIT` (`-Sn 256`: the soft limit only;
/// `-n 256`: soft and hard); exit code, stdout and stderr.
fn under_ulimit(limit: &str, args: &[&str]) -> (i32, String) {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!("ulimit {limit} && exec {} {}", mcpstorm(), quoted.join(" "));
    let output = Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("sh runs");
    let said = common::said(&output);
    (output.status.code().unwrap_or(-1), said)
}

#[test]
fn a_low_soft_limit_is_raised_and_a_hard_one_is_said_to_be_mcpstorm_s() {
    let target = HttpTarget::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "wide.toml", WIDE);
    let scenario = scenario.to_string_lossy();
    let pid = target.pid();
    let args = [
        "run",
        "--headless",
        &scenario,
        "--url",
        &target.url,
        "--pid",
        &pid,
    ];
    // Soft limit 256, hard limit higher: mcpstorm raises its own.
    let (code, said) = under_ulimit("-Sn 256", &args);
    assert_eq!(code, 0, "{said}");
    // Hard limit 256: it runs out. The calls it could not send are its own
    // failure, said so; they used to be transport errors, and the probe's
    // failing /proc reads made a healthy server "crash".
    let (code, said) = under_ulimit("-n 256", &args);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("mcpstorm could not send"), "{said}");
    assert!(said.contains("its limit is 256"), "{said}");
    assert!(said.contains("transport_error 0"), "{said}");
    assert!(!said.contains("exited mid-run"), "{said}");
}

#[test]
fn a_server_keeps_the_file_limit_it_would_have_had() {
    // An FD leak must hit the server's own limit as it would in production,
    // not mcpstorm's raised one.
    let server = format!(
        "test \"$(ulimit -Sn)\" = 256 || {{ echo \"soft limit $(ulimit -Sn)\" >&2; exit 9; }}; \
         exec {} serve",
        mcpstorm()
    );
    let (code, said) = under_ulimit(
        "-Sn 256",
        &["run", "--headless", "sequential", "--", "sh", "-c", &server],
    );
    assert_eq!(code, 0, "{said}");
}
