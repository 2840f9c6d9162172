//! mcpstorm's own memory stays bounded however long the run: a fast run of
//! 120,000 calls, and everything it keeps stays within fixed limits.

mod common;

use common::{f64_at, run_text_against_target};

#[test]
fn a_long_fast_run_keeps_mcpstorm_small() {
    let run = run_text_against_target(
        r#"
name = "long"
[[phase]]
name = "load"
load = { kind = "concurrent", workers = 8, calls = 120000 }
[[call]]
tool = "echo"
arguments = { message = "call {seq} from {worker}" }
weight = 3
[[call]]
method = "tools/list"
"#,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let result = &run.scenario("long")["result"];
    assert_eq!(f64_at(result, "/total/calls"), 120_000.0);
    let resources = &result["resources"];
    // Measured at about 12-20 MB; the bound leaves room for allocator noise.
    let own_max = f64_at(resources, "/self_rss_max_mb");
    assert!(own_max < 40.0, "mcpstorm reached {own_max} MB");
    // Its own RSS does not creep with calls: the second half adds little.
    let series = resources["series"].as_array().unwrap();
    let own = |p: &serde_json::Value| p["self_rss_mb"].as_f64().unwrap();
    let half = &series[series.len() / 2..];
    let creep = own(half.last().unwrap()) - own(&half[0]);
    assert!(creep < 5.0, "mcpstorm grew {creep} MB over the second half");
    // Time lines stay within their fixed size.
    assert!(series.len() <= 601, "{} probe points", series.len());
    assert!(result["windows"].as_array().unwrap().len() <= 601);
}
