//! The capacity search (`kind = "capacity"`) against targets whose limits
//! are known: one worker at 5 ms (200 calls/s, its limit latency), one CPU
//! thread at 5 ms of CPU a call (its limit the CPU), a server that keeps
//! 1 MB a call (its limit memory); and the objective from the command line.

mod common;

use common::{f64_at, run_text_against_target, scenario_file};

/// A capacity search of 1.5 s steps held to p99 within 20 ms, with
/// criteria that read its figures.
const ONE_WORKER_SEARCH: &str = r#"
name = "capacity"
timeout_ms = 5000
[[phase]]
name = "search"
load = { kind = "capacity", start_rate = 10, max_rate = 2000, step_s = 1.5, p99_ms = 20 }
[[call]]
tool = "echo"
arguments = { message = "x" }
[acceptance]
"capacity_per_s <= 200" = {}
"capacity_broke_at_per_s > capacity_per_s" = {}
"#;

#[test]
fn the_capacity_search_finds_the_ceiling_of_a_server_with_one_worker() {
    // One worker at 5 ms holds 200 calls a second at the very most (197
    // measured). The search doubles 10 → 320 calls/s, then bisects: the
    // highest rate it reports met can be no more than the ceiling (no
    // machine lifts it), and on a quiet machine is 190 (docs/MEASUREMENT.md).
    let run = run_text_against_target(ONE_WORKER_SEARCH, &["--workers", "1", "--latency-ms", "5"]);
    assert_found_the_ceiling(&run);
}

#[test]
fn the_capacity_search_finds_the_same_ceiling_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "capacity.toml", ONE_WORKER_SEARCH);
    let target = common::HttpTarget::start(&["--workers", "1", "--latency-ms", "5"]);
    let run = target.run(file.to_str().unwrap(), &[]);
    assert_found_the_ceiling(&run);
}

/// The search's result against one worker at 5 ms: within its ceiling.
fn assert_found_the_ceiling(run: &common::Run) {
    let capacity = &run.scenario("capacity")["result"]["phases"][0]["capacity"];
    if !capacity["generator_limit_per_s"].is_null() {
        // A machine too busy for mcpstorm to keep to its schedule: said as
        // mcpstorm's limit, and no capacity claimed beyond it.
        eprintln!("mcpstorm fell behind: {capacity}");
        return;
    }
    // The metrics the criteria read are the search's figures.
    assert_eq!(run.code, 0, "{}", run.explain());
    let steps = capacity["steps"].as_array().expect("steps");
    assert!(steps.len() >= 5, "{capacity}");
    let met = f64_at(capacity, "/highest_met_per_s");
    let broke = f64_at(capacity, "/broke_at_per_s");
    assert!((100.0..=200.0).contains(&met), "{capacity}");
    assert!(broke > met && broke <= 400.0, "{capacity}");
    assert!(
        capacity["broke_on"]
            .as_str()
            .is_some_and(|why| why.starts_with("latency") || why.starts_with("throughput")),
        "{capacity}"
    );
    // The worker sleeps: the server's CPU was not what broke.
    assert!(
        ["latency", "throughput"].contains(&capacity["broke_first"].as_str().unwrap_or("")),
        "{capacity}"
    );
    // Every step over the ceiling broke; every one met is within it.
    for step in steps {
        let rate = f64_at(step, "/rate_per_s");
        if rate > 205.0 {
            assert!(!step["broke_on"].is_null(), "{step}");
        }
        if step["broke_on"].is_null() {
            assert!(rate <= 200.0, "{step}");
        }
    }
    // The search said each step and its result in the notes.
    let notes = run.scenario("capacity")["result"]["notes"].to_string();
    assert!(notes.contains("capacity: "), "{notes}");
}

/// The search's result, or `None` (said) when mcpstorm itself fell behind
/// on a machine too busy for it to keep to its schedule.
fn capacity_unless_mcpstorm_fell_behind(run: &common::Run) -> Option<&serde_json::Value> {
    let capacity = &run.scenario("capacity")["result"]["phases"][0]["capacity"];
    if capacity["generator_limit_per_s"].is_null() {
        Some(capacity)
    } else {
        eprintln!("mcpstorm fell behind: {capacity}");
        None
    }
}

#[test]
fn a_server_whose_cpu_is_its_limit_breaks_on_its_cpu() {
    // One thread spending 5 ms of CPU on each call holds 200 calls/s at the
    // very most. Where the objective breaks, that thread wanted a CPU all
    // the step: the server's CPU is what broke first.
    // A bound of 50 ms leaves room for a busy machine's scheduling delays
    // below the ceiling, where the queue does not grow.
    let search = ONE_WORKER_SEARCH.replace("p99_ms = 20", "p99_ms = 50");
    let run = run_text_against_target(&search, &["--busy-ms", "5"]);
    let Some(capacity) = capacity_unless_mcpstorm_fell_behind(&run) else {
        return;
    };
    assert_eq!(capacity["broke_first"], "server_cpu", "{capacity}");
    let broke = f64_at(capacity, "/broke_at_per_s");
    assert!(broke <= 400.0, "{capacity}");
    let why = capacity["broke_on"].as_str().unwrap_or("");
    assert!(why.contains("the limit: the server's CPU"), "{why}");
    assert!(why.contains("busy-worker"), "{why}");
    // Each step says what the server's CPU did: a step that met the
    // objective used 5 ms of CPU a call asked (its calls all answered),
    // time on a CPU counted by the kernel, which a busy machine cannot
    // raise; a little more for reading and answering them.
    let steps = capacity["steps"].as_array().expect("steps");
    let mut checked = 0;
    for step in steps.iter().filter(|step| step["broke_on"].is_null()) {
        let asked = f64_at(step, "/rate_per_s") * 0.005;
        let cores = f64_at(step, "/server_cpu/cores_used");
        assert!(
            (0.8 * asked..=1.2 * asked + 0.03).contains(&cores),
            "{asked} cores asked: {step}"
        );
        checked += 1;
    }
    assert!(checked >= 2, "{capacity}");
}

#[test]
fn a_server_out_of_memory_room_breaks_on_memory() {
    // 1 MB kept a call, an objective of RSS within 64 MB: 10 then 20 calls
    // a second for a second each stay within it, the 40 of the next step
    // carry it past; every step after stays past it (memory kept stays).
    let search = ONE_WORKER_SEARCH.replace("step_s = 1.5", "step_s = 1");
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "capacity.toml", &search);
    let run = common::run(&[
        file.to_str().unwrap(),
        "--slo",
        "rss < 64MB",
        "--",
        common::mcpstorm(),
        "serve",
        "--leak-kb",
        "1024",
    ]);
    let Some(capacity) = capacity_unless_mcpstorm_fell_behind(&run) else {
        return;
    };
    assert_eq!(capacity["broke_first"], "memory", "{capacity}");
    assert!(
        capacity["objective"]
            .as_str()
            .is_some_and(|o| o.contains("RSS ≤ 64 MB")),
        "{capacity}"
    );
    let why = capacity["broke_on"].as_str().unwrap_or("");
    assert!(why.starts_with("memory: the server's RSS"), "{why}");
    assert_eq!(capacity["highest_met_per_s"], 20.0, "{capacity}");
    // The RSS each step gives is the server's, as the kept memory says:
    // past 64 MB once 60-odd calls have kept 1 MB each.
    for step in capacity["steps"].as_array().expect("steps") {
        let rss = f64_at(step, "/server_rss_mb");
        if step["broke_on"].is_null() {
            assert!(rss <= 64.0, "{step}");
        } else {
            assert!(rss > 64.0, "{step}");
        }
    }
}

#[test]
fn a_command_line_objective_replaces_the_scenarios() {
    // The file asks p99 within a second; `--slo` asks 2 ms of a target that
    // takes 5: the first step breaks on latency, and the result says the
    // objective it was held to.
    let scenario = r#"
name = "search"
[[phase]]
name = "search"
load = { kind = "capacity", start_rate = 10, max_rate = 20, step_s = 0.3, p99_ms = 1000 }
[[call]]
tool = "echo"
arguments = { message = "hi" }
"#;
    let dir = tempfile::tempdir().unwrap();
    let file = common::scenario_file(dir.path(), "search.toml", scenario);
    let run = common::run(&[
        file.to_str().unwrap(),
        "--slo",
        "p99 < 2ms",
        "--slo",
        "success >= 99%",
        "--",
        common::mcpstorm(),
        "serve",
        "--latency-ms",
        "5",
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let capacity = &run.scenario("search")["result"]["phases"][0]["capacity"];
    assert!(
        capacity["objective"]
            .as_str()
            .is_some_and(|o| o.starts_with("p99 ≤ 2 ms, success ≥ 99 %")),
        "{capacity}"
    );
    assert!(capacity["highest_met_per_s"].is_null(), "{capacity}");
    assert_eq!(capacity["broke_at_per_s"], 10.0, "{capacity}");
    assert!(
        capacity["broke_on"]
            .as_str()
            .is_some_and(|why| why.starts_with("latency")),
        "{capacity}"
    );
    // Where no search is, `--slo` is a mistake said before anything runs.
    let ramp = common::scenario_file(
        dir.path(),
        "ramp.toml",
        &scenario.replace(
            r#"kind = "capacity", start_rate = 10, max_rate = 20, step_s = 0.3, p99_ms = 1000"#,
            r#"kind = "rate", rate = 10, calls = 3"#,
        ),
    );
    let refused = common::run(&[
        ramp.to_str().unwrap(),
        "--slo",
        "p99 < 2ms",
        "--",
        common::mcpstorm(),
        "serve",
    ]);
    assert_eq!(refused.code, 2, "{}", refused.explain());
    assert!(
        refused
            .stderr
            .contains("--slo sets the objective of a capacity search"),
        "{}",
        refused.stderr
    );
}
