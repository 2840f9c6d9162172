//! `on_crash = "restart"` against real crashing servers: a fresh server takes
//! the crashed one's place and the load goes on; calls in flight at a crash
//! are transport errors, none lost; the probe follows the new process; no
//! process is left behind; a server mcpstorm did not start cannot be
//! restarted, and the run says so.

mod common;

use common::{HttpTarget, f64_at, mcpstorm, run, scenario_file};

const SCENARIO: &str = r#"
name = "restart"
on_crash = "restart"
[[phase]]
name = "warmup"
load = { kind = "sequential", calls = 50 }
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 4, calls = 1000 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
[acceptance]
"crashes == 0" = {}
"restarts == crashes" = {}
"calls == 1050" = {}
"#;

/// The command lines of running processes that contain `marker`.
fn running_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(marker) && c.contains("serve"))
        .collect()
}

fn check_restarted(run: &common::Run) {
    // Only `crashes == 0` fails: every planned call was made.
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(
        run.failed("restart"),
        vec!["crashes == 0".to_string()],
        "{}",
        run.explain()
    );
    let result = &run.scenario("restart")["result"];
    assert!(
        run.scenario("restart")["incomplete"].is_null(),
        "recovered crashes leave the run complete"
    );
    // --crash-after 300: 1050 calls reach three servers' 301st request.
    assert_eq!(f64_at(result, "/crashes"), 3.0);
    assert_eq!(result["restarts_at_s"].as_array().unwrap().len(), 3);
    let outcomes = &result["total"]["outcomes"];
    let ok = f64_at(outcomes, "/ok");
    let failed = f64_at(outcomes, "/transport_error");
    assert_eq!(ok + failed, 1050.0, "no call lost: {outcomes}");
    assert!(failed >= 3.0, "the calls at each crash failed: {outcomes}");
    // The probe follows the last server started, and growth counts from it.
    let resources = &result["resources"];
    let notes = result["notes"].to_string();
    let last_started = notes
        .rsplit("a fresh server (pid ")
        .next()
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_default();
    assert_eq!(
        f64_at(resources, "/pid").to_string(),
        last_started,
        "{notes}"
    );
    assert!(
        f64_at(resources, "/rss_growth_mb").abs() < 5.0,
        "{resources}"
    );
}

#[test]
fn a_crashed_stdio_server_is_restarted_and_the_load_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "restart.toml", SCENARIO);
    // A knob value no other process has, to find this run's servers.
    let marker = "0.01357";
    let run = run(&[
        scenario.to_str().unwrap(),
        "--",
        mcpstorm(),
        "serve",
        "--crash-after",
        "300",
        "--latency-ms",
        marker,
    ]);
    check_restarted(&run);
    let survivors = running_with(marker);
    assert!(survivors.is_empty(), "left running: {survivors:?}");
}

#[test]
fn a_crashed_http_server_is_restarted_in_both_eras() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "restart.toml", SCENARIO);
    for era in ["stateless", "handshake"] {
        let marker = if era == "stateless" {
            "0.02468"
        } else {
            "0.02469"
        };
        let server = format!(
            "{} serve --http 127.0.0.1:0 --era {era} --crash-after 300 --latency-ms {marker}",
            mcpstorm()
        );
        let run = run(&[scenario.to_str().unwrap(), "--server-cmd", &server]);
        check_restarted(&run);
        let survivors = running_with(marker);
        assert!(survivors.is_empty(), "{era}: left running: {survivors:?}");
    }
}

#[test]
fn a_server_mcpstorm_did_not_start_cannot_be_restarted_and_the_run_says_so() {
    let target = HttpTarget::start(&["--crash-after", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "restart.toml", SCENARIO);
    let run = target.run(scenario.to_str().unwrap(), &[]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let scenario = run.scenario("restart");
    assert!(
        scenario["incomplete"]
            .as_str()
            .is_some_and(|why| why.contains("crashed 1")),
        "{scenario}"
    );
    let notes = scenario["result"]["notes"].to_string();
    assert!(
        notes.contains("could not be started again") && notes.contains("--server-cmd"),
        "{notes}"
    );
}
