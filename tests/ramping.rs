//! `kind = "ramping_rate"` against the built-in target: the schedule's calls
//! are all sent, and the rate the server sees rises as the stages say.

mod common;

use common::run_text_against_target;

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
    let windows: Vec<u64> = result["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .filter(|w| w["span_s"].as_f64().is_some_and(|s| s >= 0.99))
        .filter_map(|w| w["calls"].as_u64())
        .collect();
    assert!(windows.len() >= 2, "{windows:?}");
    assert!(windows[0] * 4 < 331, "{windows:?}");
}
