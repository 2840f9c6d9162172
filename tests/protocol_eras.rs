//! Both protocol eras against the built-in target: the stateless 2026-07-28
//! revision when the server speaks it, the initialize handshake when it does
//! not, and exactly the revision asked for with --protocol.

mod common;

use common::{mcpstorm, run};

fn run_with(extra: &[&str], knobs: &[&str]) -> common::Run {
    let mut args: Vec<String> = vec!["concurrent".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--".into(), mcpstorm().into(), "serve".into()]);
    args.extend(knobs.iter().map(|s| s.to_string()));
    run(&args)
}

fn protocol(run: &common::Run) -> String {
    run.scenario("concurrent")["result"]["server"]["protocol_version"]
        .as_str()
        .unwrap_or_else(|| panic!("no protocol in the report: {}", run.explain()))
        .to_string()
}

#[test]
fn a_dual_era_server_is_spoken_to_statelessly() {
    let run = run_with(&[], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(protocol(&run), "2026-07-28");
    assert!(run.stdout.contains("protocol 2026-07-28"), "{}", run.stdout);
}

#[test]
fn a_handshake_only_server_gets_initialize_after_the_probe() {
    let run = run_with(&[], &["--era", "handshake"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(protocol(&run), "2025-11-25");
}

#[test]
fn a_stateless_only_server_is_spoken_to_statelessly() {
    let run = run_with(&[], &["--era", "stateless"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(protocol(&run), "2026-07-28");
}

#[test]
fn protocol_forces_each_revision() {
    for version in [
        "2024-11-05",
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        "2026-07-28",
    ] {
        let run = run_with(&["--protocol", version], &[]);
        assert_eq!(run.code, 0, "{version}: {}", run.explain());
        assert_eq!(protocol(&run), version);
    }
}

#[test]
fn a_forced_revision_the_server_lacks_is_a_setup_error() {
    let run = run_with(&["--protocol", "2026-07-28"], &["--era", "handshake"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stdout.contains("server/discover"), "{}", run.stdout);
    let run = run_with(&["--protocol", "2025-11-25"], &["--era", "stateless"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.stdout.contains("-32022"), "{}", run.stdout);
    let bad = std::process::Command::new(mcpstorm())
        .args(["run", "--protocol", "1999-01-01"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("2026-07-28"));
}
