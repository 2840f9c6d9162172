//! Session churn against the built-in target: over HTTP the memory a server
//! keeps per session is measured (and a session leak caught); over stdio each
//! session is a process, started and stopped without leaving one behind.

mod common;

use common::{f64_at, mcpstorm, run};

fn retained(run: &common::Run, phase: &str) -> f64 {
    let phases = &run.scenario("session-churn")["result"]["phases"];
    let phase = phases
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == phase))
        .unwrap_or_else(|| panic!("no phase {phase}\n{}", run.explain()));
    f64_at(phase, "/churn/retained_kb_per_session")
}

/// The target frees a closed session, and an abandoned one keeps its 16 KB.
fn assert_frees_closed_keeps_abandoned(run: &common::Run) {
    assert_eq!(run.code, 0, "{}", run.explain());
    let closed = retained(run, "closed");
    let abandoned = retained(run, "abandoned");
    assert!(
        closed.abs() < 8.0,
        "closed sessions keep {closed:.1} KB each"
    );
    assert!(
        (8.0..=24.0).contains(&abandoned),
        "an abandoned session keeps its 16 KB: read {abandoned:.1}"
    );
}

fn churn_over_http(knobs: &[&str]) -> common::Run {
    let mut server = format!("{} serve --http 127.0.0.1:0", mcpstorm());
    for knob in knobs {
        server.push(' ');
        server.push_str(knob);
    }
    run(&["session-churn", "--server-cmd", &server])
}

#[test]
fn a_server_that_frees_closed_sessions_passes_and_abandoned_state_is_measured() {
    // Handshake era: real sessions, each holding 16 KB until it is closed.
    let run = churn_over_http(&["--era", "handshake"]);
    assert_frees_closed_keeps_abandoned(&run);
}

#[test]
fn a_session_leak_is_caught_in_both_eras() {
    for era in ["handshake", "stateless"] {
        let run = churn_over_http(&["--era", era, "--session-leak-kb", "64"]);
        assert_eq!(run.code, 1, "{era}: {}", run.explain());
        assert_eq!(
            run.criterion("session-churn", "retained_kb_per_session(closed) <= 32"),
            "FAIL"
        );
        let closed = retained(&run, "closed");
        assert!(
            (56.0..=72.0).contains(&closed),
            "{era}: a 64 KB/session leak read as {closed:.1} KB"
        );
    }
}

#[test]
fn over_stdio_each_session_is_a_process_and_none_is_left_behind() {
    // A knob value no other process has, to find this run's servers in /proc.
    let marker = "0.01234";
    let run = run(&[
        "session-churn",
        "--",
        mcpstorm(),
        "serve",
        "--latency-ms",
        marker,
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(
        run.criterion("session-churn", "retained_kb_per_session(closed) <= 32"),
        "NOT_MEASURED"
    );
    let result = &run.scenario("session-churn")["result"];
    // 1,500 sessions opened (and counted), each with its 3 calls.
    assert_eq!(f64_at(result, "/total/outcomes/ok"), 1500.0 * 4.0);
    let survivors: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(marker) && c.contains("serve"))
        .collect();
    assert!(survivors.is_empty(), "left running: {survivors:?}");
}

#[test]
fn a_collection_cycle_longer_than_the_fit_is_said_not_read_as_memory_kept() {
    // Garbage collected every ~256 sessions (16 MB at 16 KB a request): the
    // 250 sessions each phase fits are less than two cycles, and a cycle's
    // rise read as memory kept (a V8 server read 255 KB/session in one run,
    // 42 in the next). The figure is withheld, the criteria are N/A, and the
    // run says how many sessions would do.
    let run = churn_over_http(&[
        "--era",
        "handshake",
        "--sawtooth-mb",
        "16",
        "--sawtooth-kb-per-call",
        "16",
    ]);
    let said = run.explain();
    assert_eq!(
        run.criterion("session-churn", "retained_kb_per_session(closed) <= 32"),
        "NOT_MEASURED",
        "{said}"
    );
    assert!(said.contains("cannot conclude"), "{said}");
    assert!(said.contains("Churn at least"), "{said}");
    // Live, while more sessions could still conclude, the criterion is
    // SETTLING (it read N/A, as if for good), and never FAILING on a
    // cycle's rise.
    let criterion = run.criterion_value("session-churn", "retained_kb_per_session(closed) <= 32");
    let states: Vec<&str> = criterion["changes"]
        .as_array()
        .expect("the criterion's changes")
        .iter()
        .filter_map(|c| c["state"].as_str())
        .collect();
    assert!(!states.contains(&"FAILING"), "{criterion}");
    assert!(states.contains(&"SETTLING"), "{criterion}");
    // With cycles four times shorter, two fit in the half-phase: it concludes,
    // and a closed session keeps nothing while an abandoned one keeps its 16 KB.
    let run = churn_over_http(&[
        "--era",
        "handshake",
        "--sawtooth-mb",
        "4",
        "--sawtooth-kb-per-call",
        "16",
    ]);
    assert_frees_closed_keeps_abandoned(&run);
}
