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
[acceptance]
"p99 <= 5000" = {}
"calls(open) <= 150" = { about = "a segment's share passes; the whole test does not" }
"fd_max < 1000" = {}
"sessions(churn) >= 1" = {}
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

/// The four segments of `scenario` run together against `target`, segment
/// 3 measuring the server (`--pid`).
fn four_segments(target: &HttpTarget, scenario: &str, start_at: &str) -> Vec<common::Run> {
    std::thread::scope(|threads| {
        let running: Vec<_> = (1..=4)
            .map(|i| {
                threads.spawn(move || {
                    let segment = format!("{i}/4");
                    let mut args = vec![scenario, "--url", &target.url, "--segment", &segment];
                    args.extend(["--start-at", start_at]);
                    let pid = target.pid();
                    if i == 3 {
                        args.extend(["--pid", &pid]);
                    }
                    common::run(&args)
                })
            })
            .collect();
        running.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

/// `mcpstorm merge REPORTS -o OUT`: its exit code and what it said.
fn merge(reports: &[&std::path::Path], out: &std::path::Path) -> (i32, String) {
    let output = std::process::Command::new(common::mcpstorm())
        .arg("merge")
        .args(reports)
        .arg("-o")
        .arg(out)
        .output()
        .expect("mcpstorm merge runs");
    (output.status.code().unwrap_or(-1), common::said(&output))
}

fn report_path(run: &common::Run) -> std::path::PathBuf {
    run.dir.path().join("report.json")
}

#[test]
fn four_segments_together_make_exactly_the_whole_test_and_merge_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "split.toml", SPLIT);
    let file = file.to_str().unwrap();
    let target = HttpTarget::start(&[]);
    // Ahead by more than four processes take to connect on a busy machine;
    // one later still begins late, and says so.
    let start_at = format!("{:.3}", unix_s(SystemTime::now()) + 4.0);
    let runs = four_segments(&target, file, &start_at);
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
        if notes.contains("the common start had passed") {
            continue; // a machine too busy to be ready in time: said
        }
        assert!(notes.contains("--start-at: the load began"), "{notes}");
        // The run clock counts from the common start: the wait is not in
        // it (the process lived the wait and the run at least).
        let waited: f64 = notes
            .split("--start-at: waiting ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{notes}"));
        let elapsed = f64_at(&run.scenario("split")["result"], "/elapsed_s");
        assert!(
            elapsed + waited <= run.wall.as_secs_f64() + 0.1,
            "{elapsed} s of run and {waited} s of waiting in {:?}",
            run.wall
        );
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
    // Each segment judges its own share: a quarter of the open phase passes
    // `calls(open) <= 150`.
    for run in &runs {
        assert_eq!(run.criterion("split", "calls(open) <= 150"), "PASS");
    }

    // Merged: the report of the whole test.
    let all = dir.path().join("all.json");
    let reports: Vec<std::path::PathBuf> = runs.iter().map(report_path).collect();
    let reports: Vec<&std::path::Path> = reports.iter().map(|p| p.as_path()).collect();
    let (code, said) = merge(&reports, &all);
    assert_eq!(code, 1, "the whole test fails `calls(open) <= 150`: {said}");
    assert!(said.contains("4 segments merged"), "{said}");
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&all).unwrap()).unwrap();
    let scenario = &merged["scenarios"][0];
    let result = &scenario["result"];
    assert_eq!(scenario["verdict"], "FAIL");
    assert_eq!(merged["segment"]["count"], 4);
    assert!(merged["segment"]["index"].is_null());
    for (index, (name, whole)) in WHOLE.iter().enumerate() {
        let phase = &result["phases"][index];
        assert_eq!(phase["name"], *name);
        assert_eq!(f64_at(phase, "/calls") as u64, *whole, "{name}");
        assert_eq!(f64_at(phase, "/planned_calls") as u64, *whole, "{name}");
        assert_eq!(f64_at(phase, "/outcomes/ok") as u64, *whole, "{name}");
    }
    assert_eq!(result["phases"][1]["load"], "400 calls/s, 403 calls");
    assert_eq!(f64_at(&result["phases"][1], "/target_per_s"), 400.0);
    let total: u64 = WHOLE.iter().map(|(_, calls)| calls).sum();
    assert_eq!(f64_at(result, "/total/calls") as u64, total);
    // The same test run whole plans, and makes, what the segments made.
    let whole = target.run(file, &[]);
    for (index, (name, _)) in WHOLE.iter().enumerate() {
        let unsplit = &whole.scenario("split")["result"]["phases"][index];
        let merged = &result["phases"][index];
        assert_eq!(merged["calls"], unsplit["planned_calls"], "{name}");
        assert_eq!(merged["calls"], unsplit["calls"], "{name}");
        assert_eq!(merged["load"], unsplit["load"], "{name}");
    }
    // The percentiles are those of one histogram of every segment's
    // latencies (each segment's buckets, recorded again), not an average.
    let mut every = mcpstorm::stats::LatencyHistogram::default();
    for run in &runs {
        let buckets = &run.scenario("split")["result"]["total"]["latency_histogram_us"];
        for bucket in buckets.as_array().unwrap() {
            for _ in 0..bucket[1].as_u64().unwrap() {
                every.record(bucket[0].as_u64().unwrap());
            }
        }
    }
    let expected = every.summary().unwrap();
    let latency = &result["total"]["latency"];
    assert_eq!(f64_at(latency, "/count") as u64, expected.count);
    for (key, value) in [
        ("p50_ms", expected.p50_ms),
        ("p90_ms", expected.p90_ms),
        ("p99_ms", expected.p99_ms),
        ("p999_ms", expected.p999_ms),
        ("max_ms", expected.max_ms),
        ("min_ms", expected.min_ms),
    ] {
        assert_eq!(
            f64_at(latency, &format!("/{key}")),
            value,
            "{key}: {latency}"
        );
    }
    // The time line: each merged second is the segments' same second, its
    // percentiles those of their histograms added.
    let windows = result["windows"].as_array().unwrap();
    let calls_in_windows: f64 = windows.iter().map(|w| f64_at(w, "/calls")).sum();
    assert_eq!(calls_in_windows as u64, total);
    for window in windows.iter().filter(|w| f64_at(w, "/calls") > 0.0) {
        let mut added = mcpstorm::stats::LatencyHistogram::default();
        let mut calls = 0.0;
        for run in &runs {
            let theirs = run.scenario("split")["result"]["windows"]
                .as_array()
                .unwrap();
            if let Some(same) = theirs.iter().find(|w| w["t_s"] == window["t_s"]) {
                calls += f64_at(same, "/calls");
                if let Some(encoded) = same["latency_hdr_v2"].as_str() {
                    added.add(&mcpstorm::stats::LatencyHistogram::from_v2_base64(encoded).unwrap());
                }
            }
        }
        assert_eq!(f64_at(window, "/calls"), calls, "{window}");
        let [p50, p99] = added.quantiles_ms([0.5, 0.99]);
        assert_eq!(f64_at(window, "/p50_ms"), p50, "{window}");
        assert_eq!(f64_at(window, "/p99_ms"), p99, "{window}");
    }
    // Criteria judged again on the merged figures; the server's from the
    // segment that measured it; a segment's own figure not joined.
    let state = |expression: &str| {
        let criteria = result["criteria"].as_array().unwrap();
        let found = criteria.iter().find(|c| c["expression"] == expression);
        found.unwrap_or_else(|| panic!("{expression}"))["state"].clone()
    };
    assert_eq!(state("calls(open) <= 150"), "FAIL");
    assert_eq!(state("p99 <= 5000"), "PASS");
    assert_eq!(state("fd_max < 1000"), "PASS");
    assert_eq!(state("sessions(churn) >= 1"), "NOT_MEASURED");
    assert_eq!(
        result["resources"]["pid"],
        target.pid().parse::<u64>().unwrap()
    );
    assert_eq!(
        result["resources"]["fds_max"],
        runs[2].scenario("split")["result"]["resources"]["fds_max"]
    );
    // Every output works on the merged report.
    let (junit, html, summary) = (
        dir.path().join("all.xml"),
        dir.path().join("all.html"),
        dir.path().join("all.md"),
    );
    let output = std::process::Command::new(common::mcpstorm())
        .arg("report")
        .arg(&all)
        .arg("--out")
        .arg(format!("junit={}", junit.display()))
        .arg("--out")
        .arg(format!("html={}", html.display()))
        .arg("--out")
        .arg(format!("markdown={}", summary.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", common::said(&output));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("calls(open) &lt;= 150"), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("400 calls/s, 403 calls")
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("the 4 segments merged"), "{summary}");
    assert!(
        summary.contains("| open | 400 calls/s, 403 calls | 403 |"),
        "{summary}"
    );
    assert!(
        summary.contains("| `calls(open) <= 150` | FAIL |"),
        "{summary}"
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

#[test]
fn reports_that_are_not_every_segment_of_one_test_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let small = |calls: u32| {
        format!(
            "name = \"small\"\n[[phase]]\nname = \"p\"\nload = {{ kind = \"rate\", rate = 200, calls = {calls} }}\n\
             [[call]]\ntool = \"echo\"\narguments = {{ message = \"x\" }}\n"
        )
    };
    let (a, b) = (
        scenario_file(dir.path(), "a.toml", &small(20)),
        scenario_file(dir.path(), "b.toml", &small(30)),
    );
    let target = HttpTarget::start(&[]);
    let segment = |file: &std::path::Path, segment: &str| {
        let run = target.run(file.to_str().unwrap(), &["--segment", segment]);
        assert_eq!(run.code, 0, "{}", run.explain());
        run
    };
    let (a1, a2, b2) = (segment(&a, "1/2"), segment(&a, "2/2"), segment(&b, "2/2"));
    let whole = target.run(a.to_str().unwrap(), &[]);
    let out = dir.path().join("all.json");
    let refused = |reports: &[&std::path::Path], said: &str| {
        let (code, text) = merge(reports, &out);
        assert_eq!(code, 2, "{text}");
        assert!(text.contains(said), "{said}: {text}");
    };
    let (a1, a2, b2, whole) = (
        report_path(&a1),
        report_path(&a2),
        report_path(&b2),
        report_path(&whole),
    );
    refused(&[&a1, &b2], "is a segment of another test");
    refused(&[&a1], "segment 2/2 missing");
    refused(&[&a1, &a1], "are both segment 1/2");
    refused(&[&a1, &whole], "not a segment's report");
    // A histogram broken in transit is named, not a panic.
    let broken = dir.path().join("broken.json");
    let text = std::fs::read_to_string(&a2).unwrap();
    let encoded = serde_json::from_str::<serde_json::Value>(&text).unwrap()["scenarios"][0]
        ["result"]["total"]["latency_hdr_v2"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(&broken, text.replace(&encoded, "bm90IGEgaGlzdG9ncmFt")).unwrap();
    refused(&[&a1, &broken], "segment 2's histogram");
    // A segment that stopped before its scenarios were all run.
    let mut stopped: serde_json::Value = serde_json::from_str(&text).unwrap();
    stopped["scenarios"] = serde_json::json!([]);
    let short = dir.path().join("short.json");
    std::fs::write(&short, stopped.to_string()).unwrap();
    refused(&[&a1, &short], "a segment that stopped early");
    // Hostile shapes are refused, never a crash.
    let shapes = [
        ("/scenarios/0", serde_json::json!(1)),
        ("/scenarios/0/result", serde_json::json!(5)),
        ("/scenarios/0/result/phases", serde_json::json!([3])),
        ("/scenarios/0/result/phases", serde_json::json!([])),
        (
            "/scenarios/0/result/total/latency_hdr_v2",
            serde_json::json!(7),
        ),
    ];
    for (pointer, value) in shapes {
        let mut hostile: serde_json::Value = serde_json::from_str(&text).unwrap();
        *hostile.pointer_mut(pointer).unwrap() = value;
        let file = dir.path().join("hostile.json");
        std::fs::write(&file, hostile.to_string()).unwrap();
        let (code, said) = merge(&[&a1, &file], &out);
        assert_eq!(code, 2, "{pointer}: {said}");
        assert!(
            said.contains("hostile.json") || said.contains("segment 2"),
            "{pointer}: {said}"
        );
    }
    assert!(!out.exists(), "nothing written when the merge is refused");
    // Every segment, in any order: merged.
    let (code, text) = merge(&[&a2, &a1], &out);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn a_segment_with_no_share_of_the_test_is_complete_and_merges() {
    // One sequential worker: all of it is segment 1's; segment 2 plans and
    // makes nothing, and is no incomplete run that would fail the merge.
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(
        dir.path(),
        "one.toml",
        "name = \"one\"\n[[phase]]\nname = \"p\"\nload = { kind = \"sequential\", calls = 30 }\n\
         [[call]]\ntool = \"echo\"\narguments = { message = \"x\" }\n\
         [acceptance]\n\"calls >= 30\" = {}\n",
    );
    let target = HttpTarget::start(&[]);
    let first = target.run(file.to_str().unwrap(), &["--segment", "1/2"]);
    let second = target.run(file.to_str().unwrap(), &["--segment", "2/2"]);
    assert_eq!(first.code, 0, "{}", first.explain());
    let nothing = &second.scenario("one");
    assert!(nothing["incomplete"].is_null(), "{nothing}");
    assert_eq!(f64_at(&nothing["result"], "/total/calls"), 0.0);
    let out = dir.path().join("all.json");
    let (code, said) = merge(&[&report_path(&first), &report_path(&second)], &out);
    assert_eq!(code, 0, "{said}");
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(merged["verdict"], "PASS");
    assert_eq!(
        f64_at(&merged["scenarios"][0]["result"], "/total/calls"),
        30.0
    );
}

#[test]
fn the_common_start_is_the_first_scenarios_and_later_ones_begin_when_ready() {
    // Two scenarios: the first waits for --start-at; the second, run once
    // the first is over, is neither waited for nor said to be late.
    let dir = tempfile::tempdir().unwrap();
    let small = |name: &str| {
        let text = format!(
            "name = \"{name}\"\n[[phase]]\nname = \"p\"\nload = {{ kind = \"sequential\", calls = 5 }}\n\
             [[call]]\ntool = \"echo\"\narguments = {{ message = \"x\" }}\n"
        );
        scenario_file(dir.path(), &format!("{name}.toml"), &text)
    };
    let (first, second) = (small("first"), small("second"));
    let target = HttpTarget::start(&[]);
    let start_at = format!("{:.3}", unix_s(SystemTime::now()) + 1.0);
    let run = target.run(
        first.to_str().unwrap(),
        &[second.to_str().unwrap(), "--start-at", &start_at],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let notes = |name: &str| run.scenario(name)["result"]["notes"].to_string();
    assert!(notes("first").contains("--start-at:"), "{}", notes("first"));
    assert!(
        !notes("second").contains("--start-at"),
        "{}",
        notes("second")
    );
}
