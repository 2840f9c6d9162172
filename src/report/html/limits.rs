//! The HTML report's account of the searches for a server's limits: a
//! capacity search's latency against the rate asked, each step in a table;
//! sessions as users' latency against the sessions open.

use std::fmt::Write;

use super::chart::Chart;
use crate::report::markup::escape;
use crate::report::saved::{SavedCapacity, SavedResult, SavedSessions};

pub fn limits(html: &mut String, result: &SavedResult) {
    for phase in &result.phases {
        if let Some(capacity) = &phase.capacity {
            capacity_search(html, &phase.name, capacity);
        }
        if let Some(sessions) = &phase.sessions {
            sessions_held(html, &phase.name, sessions);
        }
    }
}

fn capacity_search(html: &mut String, phase: &str, capacity: &SavedCapacity) {
    let _ = writeln!(html, "<h3>Capacity search: {}</h3>", escape(phase));
    let met = capacity
        .highest_met_per_s
        .map_or("no rate met it".to_string(), |r| {
            format!("{r:.0} calls/s met it")
        });
    let broke = match (capacity.broke_at_per_s, &capacity.broke_first) {
        (Some(r), Some(first)) => format!("; {r:.0} calls/s broke it, first on {first}"),
        _ => String::new(),
    };
    let limit = capacity.generator_limit_per_s.map_or(String::new(), |r| {
        format!("; stopped at {r:.0} calls/s, mcpstorm's limit")
    });
    let _ = writeln!(
        html,
        "<p>Objective: {}. {}{}{}.</p>",
        escape(&capacity.objective),
        escape(&met),
        escape(&broke),
        escape(&limit)
    );
    // The curve in rising rate, whatever order the search went in.
    let mut by_rate: Vec<_> = capacity.steps.iter().collect();
    by_rate.sort_by(|a, b| a.rate_per_s.total_cmp(&b.rate_per_s));
    let mut curve = Chart::new("p99 against the rate asked (calls/s)", "ms");
    curve.x_suffix = "";
    curve.line(
        "p99",
        "s2",
        by_rate.iter().map(|s| (s.rate_per_s, s.p99_ms)).collect(),
    );
    curve.line(
        "p50",
        "s0",
        by_rate.iter().map(|s| (s.rate_per_s, s.p50_ms)).collect(),
    );
    html.push_str(&curve.svg());
    html.push_str(
        "<table>\n<tr><th>step</th><th>asked /s</th><th>answered /s</th><th>p50 ms</th>\
         <th>p99 ms</th><th>ok</th><th>server CPU</th><th>verdict</th></tr>\n",
    );
    for (n, step) in capacity.steps.iter().enumerate() {
        let cpu = step.server_cpu.as_ref().map_or("-".to_string(), |c| {
            format!("{:.0} %", c.cores_used * 100.0)
        });
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{:.1}</td><td>{:.1}</td>\
             <td>{:.2} %</td><td>{cpu}</td><td>{}</td></tr>",
            n + 1,
            step.rate_per_s,
            step.achieved_per_s,
            step.p50_ms,
            step.p99_ms,
            step.success_rate * 100.0,
            escape(step.broke_on.as_deref().unwrap_or("met"))
        );
    }
    html.push_str("</table>\n");
}

fn sessions_held(html: &mut String, phase: &str, sessions: &SavedSessions) {
    let _ = writeln!(html, "<h3>Sessions as users: {}</h3>", escape(phase));
    let held = sessions.held_sessions.map_or("none held".to_string(), |n| {
        format!("{n} sessions held at once")
    });
    let broke = match (sessions.broke_at_sessions, &sessions.broke_on) {
        (Some(n), Some(why)) => format!("; broken with {n} open, on {why}"),
        _ => String::new(),
    };
    let _ = writeln!(
        html,
        "<p>Objective: {}. {}{}.</p>",
        escape(&sessions.objective),
        escape(&held),
        escape(&broke)
    );
    let mut curve = Chart::new("p99 against the sessions open", "ms");
    curve.x_suffix = "";
    curve.line(
        "p99",
        "s2",
        sessions
            .windows
            .iter()
            .map(|w| (w.sessions as f64, w.p99_ms))
            .collect(),
    );
    html.push_str(&curve.svg());
}
