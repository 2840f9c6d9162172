//! The criteria of a merged scenario, judged again: on the merged calls
//! where every figure a criterion reads can be merged; as the segment that
//! measured the server judged it where it reads the server's process; not
//! measured where it reads what no merge can join.

use serde_json::Value;

use crate::acceptance::{Criterion, metrics};
use crate::report::criterion_json;
use crate::stats::Snapshot;

/// Run-wide counts that add up across segments.
const SUMMED: &[&str] = &[
    "correlation_violations",
    "protocol_violations",
    "crashes",
    "forced_stops",
    "restarts",
];

/// How one criterion of a merged report is decided.
enum Decided {
    /// Every figure it reads is merged: judged on them.
    OnMerged,
    /// It reads the server's process: the measuring segment's verdict.
    ByTheServersSegment,
    /// It reads a figure no merge joins (a churn fit, a cold start, a
    /// capacity search): named.
    NotJoined(String),
}

fn decided(criterion: &Criterion) -> Decided {
    let mut used = criterion.comparison.lhs.metrics();
    used.extend(criterion.comparison.rhs.metrics());
    let mut server = false;
    for call in used {
        let Some(def) = metrics::find(&call.name) else {
            return Decided::NotJoined(call.name.clone());
        };
        if def.reads_server() {
            server = true;
        } else if def.scope() != metrics::Scope::Calls && !SUMMED.contains(&def.name) {
            return Decided::NotJoined(call.name.clone());
        }
    }
    if server {
        Decided::ByTheServersSegment
    } else {
        Decided::OnMerged
    }
}

/// Each criterion of segment 1's `criteria` array decided for the merged
/// report; `merged` holds the merged calls and counts, `servers` the
/// criteria of the segment that measured the server, if one did.
pub fn criteria(first: &Value, servers: Option<&Value>, merged: &Snapshot) -> Vec<Value> {
    let phases: Vec<String> = merged.phases.iter().map(|p| p.name.clone()).collect();
    let listed = first.as_array().map(Vec::as_slice).unwrap_or_default();
    listed
        .iter()
        .enumerate()
        .map(|(index, written)| {
            let expression = written["expression"].as_str().unwrap_or_default();
            let compiled = match Criterion::compile(expression, &phases, None) {
                Ok(compiled) => compiled,
                Err(why) => return not_measured(written, &why),
            };
            match decided(&compiled) {
                Decided::OnMerged => {
                    let mut status = compiled.evaluate(merged, true);
                    status.about = written["about"].as_str().map(str::to_string);
                    criterion_json(&status)
                }
                Decided::ByTheServersSegment => servers
                    .and_then(|all| all.get(index))
                    .cloned()
                    .unwrap_or_else(|| not_measured(written, "no segment measured the server")),
                Decided::NotJoined(metric) => not_measured(
                    written,
                    &format!("`{metric}` is a segment's own figure: a merge cannot join it"),
                ),
            }
        })
        .collect()
}

fn not_measured(written: &Value, why: &str) -> Value {
    serde_json::json!({
        "expression": written["expression"],
        "state": "NOT_MEASURED",
        "value": null,
        "threshold": null,
        "detail": format!("merged: {why}"),
        "about": written["about"],
        "changes": [],
        "changes_not_listed": 0,
    })
}
