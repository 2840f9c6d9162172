//! `kind = "ramping_rate"` against the built-in target: the schedule's calls
//! are all sent, and the rate the server sees rises as the stages say.

mod common;

use common::{f64_at, run_text_against_target};

/// The calls of each whole second of the run's latency time line (the last,
/// partial window left out).
fn whole_seconds(result: &serde_json::Value) -> Vec<u64> {
    result["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .filter(|w| w["span_s"].as_f64().is_some_and(|s| s >= 0.99))
        .filter_map(|w| w["calls"].as_u64())
        .collect()
}

#[test]
fn a_rising_ramp_sends_its_calls_faster_and_faster() {
    // 20 → 200 calls/s over 3 s: 330 calls on the schedule, and a 331st at
    // its end (call n goes where the running total reaches n, from 0);
    // about 50, 110 and 170 in its three seconds.
    let scenario = r#"
name = "ramp"
[[phase]]
name = "up"
load = { kind = "ramping_rate", start_rate = 20, stages = [{ rate = 200, duration_s = 3 }] }
[[call]]
tool = "echo"
arguments = { message = "hi" }
"#;
    let run = run_text_against_target(scenario, &["--latency-ms", "2"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let result = &run.scenario("ramp")["result"];
    let phase = &result["phases"][0];
    assert_eq!(phase["calls"], 331, "{phase}");
    assert_eq!(phase["planned_calls"], 331, "{phase}");
    assert_eq!(phase["target_per_s"], 200.0, "{phase}");
    assert_eq!(phase["outcomes"]["ok"], 331, "{phase}");
    assert!(
        phase["load"]
            .as_str()
            .is_some_and(|l| l.contains("20 → 200 calls/s over 3 s")),
        "{phase}"
    );
    // The first whole second of the run holds at most the ramp's first
    // second, about 50 calls (fewer when the phase starts into it), where a
    // steady schedule of as many calls would hold 110. A busy machine only
    // moves calls later (a late send is still sent), never earlier.
    let windows = whole_seconds(result);
    assert!(windows.len() >= 2, "{windows:?}");
    assert!(windows[0] * 4 < 331, "{windows:?}");
}

#[test]
fn each_stage_of_a_ramp_says_how_far_behind_its_sends_left() {
    // One call in flight at most, each taking 40 ms: 25 calls/s at most.
    // The first stage, 10 calls/s for 1.05 s (11 calls), keeps to its
    // schedule; the second, 10 → 100 calls/s over 1 s (55 calls), asks more
    // than one call at a time can give, and its sends fall behind by over a
    // second. Both counts follow from the schedule, the lag from the cap,
    // not from how busy the machine is.
    let scenario = r#"
name = "ramp"
[[phase]]
name = "up"
load = { kind = "ramping_rate", start_rate = 10, max_in_flight = 1, stages = [{ rate = 10, duration_s = 1.05 }, { rate = 100, duration_s = 1 }] }
[[call]]
tool = "echo"
arguments = { message = "hi" }
"#;
    let run = run_text_against_target(scenario, &["--latency-ms", "40"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let phase = &run.scenario("ramp")["result"]["phases"][0];
    assert_eq!(phase["calls"], 66, "{phase}");
    let stages = phase["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 2, "{phase}");
    let (steady, rising) = (&stages[0], &stages[1]);
    assert_eq!(
        (
            &steady["from_per_s"],
            &steady["to_per_s"],
            &steady["duration_s"]
        ),
        (&10.0.into(), &10.0.into(), &1.05.into()),
        "{steady}"
    );
    assert_eq!(
        (&rising["from_per_s"], &rising["to_per_s"]),
        (&10.0.into(), &100.0.into())
    );
    assert_eq!((&steady["sent"], &rising["sent"]), (&11.into(), &55.into()));
    assert!(f64_at(steady, "/max_send_lag_ms") < 50.0, "{steady}");
    assert!(f64_at(rising, "/max_send_lag_ms") > 500.0, "{rising}");
    assert!(
        rising["late_sends"].as_u64().is_some_and(|late| late >= 30),
        "{rising}"
    );
    for stage in stages {
        assert!(f64_at(stage, "/mean_send_lag_ms") <= f64_at(stage, "/max_send_lag_ms"));
    }
}

#[test]
fn a_ramp_of_workers_adds_them_as_it_goes() {
    // 1 → 8 workers over 2 s, then 8 for 1 s, each call 20 ms at the
    // server: about 50 calls a second a worker, so some 140, 310 and 400
    // calls in the three seconds, where 8 workers from the start would make
    // 400 in the first.
    let scenario = r#"
name = "ramp"
[[phase]]
name = "up"
load = { kind = "ramping_workers", stages = [{ workers = 8, duration_s = 2 }, { workers = 8, duration_s = 1 }] }
[[call]]
tool = "echo"
arguments = { message = "hi" }
"#;
    let run = run_text_against_target(scenario, &["--latency-ms", "20"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let result = &run.scenario("ramp")["result"];
    let phase = &result["phases"][0];
    let calls = phase["calls"].as_u64().expect("calls");
    assert_eq!(phase["outcomes"]["ok"], calls, "{phase}");
    // The ramp's clock, not a call budget, ends the phase.
    let seconds = phase["duration_s"].as_f64().expect("duration");
    assert!((2.9..4.0).contains(&seconds), "{phase}");
    assert!(
        phase["load"]
            .as_str()
            .is_some_and(|l| l.contains("1 → 8 workers over 2 s, 8 workers for 1 s")),
        "{phase}"
    );
    let windows = whole_seconds(result);
    assert!(windows.len() >= 2, "{windows:?}");
    // More than one worker's worth over the phase, and the first second far
    // below a fair share of it.
    assert!(calls > 3 * 50 * 2, "{calls} calls: {windows:?}");
    assert!(windows[0] * 4 < calls, "{calls} calls: {windows:?}");
}
