//! `--segment I/N` and `--start-at`: a test split over N mcpstorm processes
//! against one server (the built-in HTTP target), the shares making exactly
//! the whole test; what cannot be split refused, saying why.

mod common;

use common::{HttpTarget, f64_at, scenario_file};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Every load kind that splits, each with a count known in advance.
const SPLIT: &str = r#"
name = "split"
[[phase]]
name = "warmup"
warmup = true
load = { kind = "sequential", calls = 7 }
[[phase]]
name = "open"
load = { kind = "rate", rate = 400, calls = 403 }
[[phase]]
name = "closed"
load = { kind = "concurrent", workers = 5, calls = 101 }
[[phase]]
name = "batches"
load = { kind = "concurrent", workers = 5, batches = 3 }
[[phase]]
name = "ramp"
load = { kind = "ramping_rate", start_rate = 50, stages = [{ rate = 150, duration_s = 1 }] }
[[phase]]
name = "churn"
load = { kind = "churn", sessions = 6, calls_per_session = 3 }
[[call]]
tool = "echo"
arguments = { message = "x" }
"#;

/// Calls each phase of [`SPLIT`] makes, whole: the ramp's integral is 100
/// calls, due from 0 (101); each churned session is opened (counted) and
/// makes 3 calls.
const WHOLE: [(&str, u64); 6] = [
    ("warmup", 7),
    ("open", 403),
    ("closed", 101),
    ("batches", 15),
    ("ramp", 101),
    ("churn", 24),
];

fn phase<'a>(run: &'a common::Run, name: &str) -> &'a serde_json::Value {
    run.scenario("split")["result"]["phases"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no phase {name}"))
}

fn unix_s(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

#[test]
fn four_segments_together_make_exactly_the_whole_test() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "split.toml", SPLIT);
    let file = file.to_str().unwrap();
    let target = HttpTarget::start(&[]);
    let start_at = format!("{:.3}", unix_s(SystemTime::now()) + 2.0);
    let runs: Vec<common::Run> = std::thread::scope(|threads| {
        let running: Vec<_> = (1..=4)
            .map(|i| {
                let (target, start_at) = (&target, &start_at);
                threads.spawn(move || {
                    let segment = format!("{i}/4");
                    target.run(file, &["--segment", &segment, "--start-at", start_at])
                })
            })
            .collect();
        running.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run.code, 0, "segment {}: {}", i + 1, run.explain());
        let segment = &run.report()["segment"];
        assert_eq!(segment["index"], i + 1, "{segment}");
        assert_eq!(segment["count"], 4, "{segment}");
        assert!(
            (f64_at(segment, "/start_at_unix_s") - start_at.parse::<f64>().unwrap()).abs() < 1e-3
        );
        // The whole test, unsplit, the same in every segment.
        assert_eq!(segment["whole"], runs[0].report()["segment"]["whole"]);
        assert!(
            segment["whole"][0]["phases"][1]
                .as_str()
                .is_some_and(|p| p == "open: 400 calls/s, 403 calls"),
            "{segment}"
        );
        let notes = run.scenario("split")["result"]["notes"].to_string();
        assert!(notes.contains("--start-at: the load began"), "{notes}");
    }
    for (name, whole) in WHOLE {
        let calls: Vec<u64> = runs
            .iter()
            .map(|run| f64_at(phase(run, name), "/calls") as u64)
            .collect();
        assert_eq!(calls.iter().sum::<u64>(), whole, "{name}: {calls:?}");
        let planned: u64 = runs
            .iter()
            .map(|run| f64_at(phase(run, name), "/planned_calls") as u64)
            .sum();
        assert_eq!(planned, whole, "{name}: planned");
        // No share more than one item (a worker's calls, a session's) over
        // another's, and every call answered.
        for run in &runs {
            assert_eq!(
                phase(run, name)["outcomes"]["ok"],
                phase(run, name)["calls"]
            );
        }
    }
    // The first segment holds the one sequential worker; the others say
    // they hold none of it.
    assert_eq!(f64_at(phase(&runs[0], "warmup"), "/calls"), 7.0);
    let load = phase(&runs[1], "warmup")["load"].to_string();
    assert!(load.contains("none of it in segment 2/4"), "{load}");
    // An open model's share: every 4th call, at its time in the whole
    // schedule (a quarter of the rate).
    let open = phase(&runs[1], "open");
    assert_eq!(f64_at(open, "/target_per_s"), 100.0, "{open}");
    assert!(
        open["load"]
            .as_str()
            .is_some_and(|l| l.ends_with("segment 2/4: 1 call in 4")),
        "{open}"
    );
}

#[test]
fn what_cannot_be_split_is_refused_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "split.toml", SPLIT);
    let file = file.to_str().unwrap();
    // Over stdio each segment would start a server of its own.
    let run = common::run(&[file, "--segment", "1/2", "--", common::mcpstorm(), "serve"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stderr.contains("share one server: give its --url"),
        "{}",
        run.explain()
    );
    // A capacity search decides on all of its calls.
    let target = HttpTarget::start(&[]);
    let run = target.run("capacity", &["--segment", "1/2"]);
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(
        run.stderr
            .contains("cannot be split: a capacity search decides"),
        "{}",
        run.explain()
    );
    for (bad, said) in [
        ("0/4", "expected I/N"),
        ("5/4", "expected I/N"),
        ("1/20000", "at most 10000 segments"),
    ] {
        let run = target.run(file, &["--segment", bad]);
        assert_eq!(run.code, 2, "{bad}: {}", run.explain());
        assert!(run.stderr.contains(said), "{bad}: {}", run.explain());
    }
    let two_days = format!("{}", unix_s(SystemTime::now()) as u64 + 2 * 86_400);
    for (bad, said) in [
        (two_days.as_str(), "more than 24 hours ahead"),
        ("yesterday", "expected RFC 3339"),
        ("1e300", "not a time of this era"),
    ] {
        let run = target.run(file, &["--start-at", bad]);
        assert_eq!(run.code, 2, "{bad}: {}", run.explain());
        assert!(run.stderr.contains(said), "{bad}: {}", run.explain());
    }
}

#[test]
fn a_start_passed_already_is_said_and_the_load_begins_at_once() {
    let target = HttpTarget::start(&[]);
    let run = target.run("sequential", &["--start-at", "2026-01-01T00:00:00Z"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let notes = run.scenario("sequential")["result"]["notes"].to_string();
    assert!(notes.contains("the common start had passed"), "{notes}");
    assert!(run.wall < Duration::from_secs(60), "{:?}", run.wall);
}
