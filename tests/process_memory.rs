//! The server's memory as its process tree really holds it: PSS beside RSS
//! (a forked child's shared pages counted once), each process's own growth
//! (a wrapper that frees memory hid its server's leak in the tree's sum),
//! `--measure-process` to measure the server without its wrapper, and the
//! processes that came and went. The servers (tests/servers/forking.py)
//! hold known amounts of memory: those are the figures checked against.

mod common;

use std::path::Path;

use common::{f64_at, run, scenario_file};
use serde_json::Value;

fn forking() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/servers/forking.py")
        .to_string_lossy()
        .into_owned()
}

const WRAPPED: &str = r#"
name = "wrapped"
[[phase]]
name = "warmup"
load = { kind = "sequential", calls = 50 }
[[phase]]
name = "load"
load = { kind = "sequential", calls = 400 }
[[call]]
tool = "echo"
arguments = { message = "hi {seq}" }
[acceptance]
"rss_growth_mb <= 20" = {}
"#;

fn resources(run: &common::Run, name: &str) -> Value {
    run.scenario(name)["result"]["resources"].clone()
}

#[test]
fn forked_children_share_pages_that_pss_counts_once() {
    // 60 MB written, then two forks that only sleep: the sum of RSS counts
    // the 60 MB three times, PSS once.
    let run = run(&[
        "sequential",
        "--",
        "python3",
        &forking(),
        "shared",
        "60",
        "2",
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let r = resources(&run, "sequential");
    assert_eq!(f64_at(&r, "/processes"), 3.0, "{r}");
    assert_eq!(f64_at(&r, "/processes_max"), 3.0);
    let (rss, pss) = (f64_at(&r, "/rss_current_mb"), f64_at(&r, "/pss_current_mb"));
    assert!(rss >= 180.0, "RSS counts the 60 MB three times: {rss}");
    assert!((60.0..=120.0).contains(&pss), "PSS counts it once: {pss}");
    // Each member's PSS adds up to the tree's.
    let members = r["members"].as_array().expect("members");
    let summed: f64 = members.iter().map(|m| f64_at(m, "/pss_mb")).sum();
    assert!((summed - pss).abs() < 1.0, "{summed} vs {pss}");
    assert!(
        run.stdout.contains("shared pages counted once"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_wrapper_that_frees_memory_no_longer_hides_its_servers_leak() {
    // The wrapper frees 30 MB while its server keeps 35 MB: the tree's sum
    // ends about 5 MB above its baseline, which passed "rss_growth_mb <= 20"
    // when growth counted from the baseline sample. It counts from the
    // floor since (the sum after the wrapper freed), and fails; each
    // process's own growth shows who kept it, and the server
    // measured alone with --measure-process fails it too.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = scenario_file(dir.path(), "wrapped.toml", WRAPPED);
    let file = file.to_string_lossy();
    let tree = run(&[&file, "--", "python3", &forking(), "wrapper"]);
    assert_eq!(
        tree.failed("wrapped"),
        vec!["rss_growth_mb <= 20"],
        "the sum hides it: {}",
        tree.explain()
    );
    let r = resources(&tree, "wrapped");
    let from_floor = f64_at(&r, "/rss_growth_mb");
    assert!((33.0..=45.0).contains(&from_floor), "{from_floor}");
    let members = r["members"].as_array().expect("members").clone();
    assert_eq!(members.len(), 2, "{r}");
    let wrapper = f64_at(&members[0], "/rss_growth_mb");
    let server = f64_at(&members[1], "/rss_growth_mb");
    // The wrapper freed 30 MB: it keeps nothing (growth counts from each
    // process's floor, as the tree's does).
    assert!(wrapper.abs() <= 2.0, "the wrapper keeps nothing: {wrapper}");
    assert!(
        (33.0..=45.0).contains(&server),
        "the server kept 35 MB: {server}"
    );
    assert!(
        tree.stdout.contains(&format!("growth {server:+.1} MB")),
        "{}",
        tree.stdout
    );

    let alone = run(&[
        &file,
        "--measure-process",
        "forking.py leaky",
        "--",
        "python3",
        &forking(),
        "wrapper",
    ]);
    assert_eq!(
        alone.failed("wrapped"),
        vec!["rss_growth_mb <= 20"],
        "{}",
        alone.explain()
    );
    let r = resources(&alone, "wrapped");
    assert_eq!(f64_at(&r, "/processes"), 1.0, "{r}");
    let growth = f64_at(&r, "/rss_growth_mb");
    assert!((33.0..=45.0).contains(&growth), "{growth}");
    // The measured process is the server, not the wrapper mcpstorm started.
    assert_ne!(
        r["pid"],
        tree.scenario("wrapped")["result"]["resources"]["pid"]
    );

    // A text no process has: nothing is measured, and the run says so.
    let none = run(&[
        &file,
        "--measure-process",
        "no-such-server",
        "--",
        "python3",
        &forking(),
        "wrapper",
    ]);
    assert!(
        none.stdout.contains("nothing was measured"),
        "{}",
        none.explain()
    );
    assert_eq!(
        none.code,
        1,
        "a criterion with no data fails: {}",
        none.explain()
    );
}

#[test]
fn processes_that_come_and_go_are_said() {
    let run = run(&["sequential", "--", "python3", &forking(), "spawner"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let r = resources(&run, "sequential");
    assert_eq!(f64_at(&r, "/processes_max"), 2.0, "{r}");
    assert_eq!(f64_at(&r, "/processes"), 1.0);
    let changes = &r["tree_changes"];
    assert_eq!(f64_at(changes, "/started"), 1.0, "{changes}");
    assert_eq!(f64_at(changes, "/ended"), 1.0);
    assert!(
        changes["examples"][0]
            .as_str()
            .is_some_and(|e| e.ends_with(" sleep")),
        "{changes}"
    );
    assert!(
        run.stdout.contains("the tree changed during the run"),
        "{}",
        run.stdout
    );
}
