//! The comparison as Markdown: a pull request's comment, readable as plain
//! text in a terminal too. Names from the reports (scenarios, tools, files,
//! targets) are outside input: cut, and escaped so they stay text.

use std::fmt::Write;

use super::threshold::{self, Crossing, Threshold};
use super::{Comparison, Figure, Noise, Part, PartKind, RunIdentity, Unit};
use crate::report::markup::{iso8601_utc, markdown_cell};

/// The figures every part shows; a threshold's metric is shown too.
const SHOWN: [&str; 12] = [
    "p50",
    "p95",
    "p99",
    "throughput",
    "success_rate",
    "rss_trend_kb_per_call",
    "rss_kb_per_call",
    "rss_growth_mb",
    "rss_max_mb",
    "fd_max",
    "threads_max",
    "processes_max",
];

/// Longest name kept from a report, in characters.
const NAME_CHARS: usize = 120;

pub fn render(comparison: &Comparison, thresholds: &[Threshold], crossed: &[Crossing]) -> String {
    let mut out = String::from("## mcpstorm compare\n\n");
    out.push_str("| | report | mcpstorm | started (UTC) | target | machine | verdict |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for (role, runs) in [("base", &comparison.base), ("new", &comparison.new)] {
        for (i, run) in runs.iter().enumerate() {
            let role = if runs.len() > 1 {
                format!("{role} {}", i + 1)
            } else {
                role.to_string()
            };
            identity_row(&mut out, &role, run);
        }
    }
    out.push('\n');
    let mut listed: Vec<String> = thresholds.iter().map(code).collect();
    for scenario in &comparison.scenarios {
        for own in threshold::judging(thresholds, scenario)
            .into_iter()
            .skip(thresholds.len())
        {
            listed.push(format!(
                "{} in scenario {}",
                code(own),
                cell(&scenario.name)
            ));
        }
    }
    let judged = !listed.is_empty();
    let listed = listed.join(", ");
    if !judged {
        out.push_str(
            "**No threshold given** (`--fail-on \"p95 +10%\"`): the differences are shown, not judged.\n",
        );
    } else if crossed.is_empty() {
        let _ = writeln!(out, "**PASS**: no threshold crossed ({listed}).");
    } else {
        let _ = writeln!(
            out,
            "**FAIL**: {} crossed a threshold ({listed}).",
            plural(crossed.len(), "difference")
        );
    }
    for caution in &comparison.cautions {
        let _ = writeln!(out, "\n> Caution: {}.", cell(caution));
    }
    for unmatched in &comparison.unmatched {
        let _ = writeln!(out, "\n> Not compared: {}.", cell(unmatched));
    }
    if !crossed.is_empty() {
        out.push_str("\n### Crossed\n\n| scenario | part | metric | base | new | change | threshold |\n|---|---|---|---|---|---|---|\n");
        for crossing in crossed {
            let f = &crossing.figure;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | **{}** | `{}` |",
                cell(&crossing.scenario),
                cell(&crossing.part),
                f.metric,
                value(f.unit, f.base),
                value(f.unit, f.new),
                change(f),
                crossing.threshold.replace('`', "'"),
            );
        }
    }
    for scenario in &comparison.scenarios {
        let _ = writeln!(out, "\n### Scenario {}\n", cell(&scenario.name));
        out.push_str("| part | calls | metric | base | new | change | noise |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for part in &scenario.parts {
            part_rows(&mut out, part, &threshold::judging(thresholds, scenario));
        }
        for unmatched in &scenario.unmatched {
            let _ = writeln!(out, "\nNot compared: {}.", cell(unmatched));
        }
    }
    let _ = write!(
        out,
        "{LEGEND_NOISE} A latency figure is beyond noise only when it also moved by {}% of the base \
         or more (`--noise-floor`), memory kept per call by {} KB or more (`--memory-floor`). \
         With several runs a side the figures are the runs' means. Warm-up phases are shown, not \
         judged.{LEGEND_REST}",
        comparison.floors.latency * 100.0,
        comparison.floors.memory_kb_per_call
    );
    out
}

const LEGEND_NOISE: &str = "\n*beyond noise*, one run a side: the two runs' 95 % intervals do not \
meet — for a latency percentile, distribution-free intervals from each run's histogram (the calls \
ranked n·q ∓ 1.96·√(n·q·(1−q))); for a rate, Wilson intervals; for the mean, the normal interval; \
for memory kept per call, the floor fit's interval. Several runs a side (`--base-also`, \
`--new-also`): the runs' figures differ by more than they spread (Welch's t-test at 95 %), which \
tests every figure and sees how far runs of one server drift apart. docs/COMPARE.md gives the false \
alarms measured of both.";

const LEGEND_REST: &str = " *not tested*: one reading per run and one run a side (throughput, maxima, counts), judged on its size alone. \
*not settled*: a memory trend that had not settled in a run (no collection seen for long \
enough), judged as it stands as the run's criteria judge it.\n";

fn identity_row(out: &mut String, role: &str, run: &RunIdentity) {
    let started = if run.started_at_unix_s == 0 {
        String::new()
    } else {
        iso8601_utc(run.started_at_unix_s).replace('T', " ")
    };
    let _ = writeln!(
        out,
        "| {role} | {} | {} | {started} | {} | {} | {} |",
        cell(&run.file),
        cell(&run.mcpstorm_version),
        cell(&run.target),
        cell(&run.machine),
        cell(&run.verdict),
    );
}

/// A threshold as written, in code.
fn code(threshold: &Threshold) -> String {
    format!("`{}`", threshold.text.replace('`', "'"))
}

fn part_rows(out: &mut String, part: &Part, thresholds: &[&Threshold]) {
    let shown = |f: &&Figure| {
        (SHOWN.contains(&f.metric) || thresholds.iter().any(|t| t.metric == f.metric))
            && (f.base.is_some() || f.new.is_some())
    };
    let calls = format!("{} → {}", part.calls[0], part.calls[1]);
    let title = match part.kind {
        PartKind::WholeRun => format!("**{}**", part.title()),
        _ => cell(&part.title()),
    };
    for (i, figure) in part.figures.iter().filter(shown).enumerate() {
        let crossed = part.judged() && thresholds.iter().any(|t| t.crossed_by(figure));
        let moved = change(figure);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            if i == 0 { title.as_str() } else { "" },
            if i == 0 { calls.as_str() } else { "" },
            figure.metric,
            value(figure.unit, figure.base),
            value(figure.unit, figure.new),
            if crossed {
                format!("**{moved}** ✗")
            } else {
                moved
            },
            match (figure.noise, figure.unsettled) {
                (Noise::Beyond, false) => "beyond noise",
                (Noise::Beyond, true) => "beyond noise · not settled",
                (Noise::Within, false) => "within noise",
                (Noise::Within, true) => "within noise · not settled",
                (Noise::Untested, _) => "not tested",
            }
        );
    }
}

/// A figure as written in a cell.
fn value(unit: Unit, figure: Option<f64>) -> String {
    let Some(v) = figure.filter(|v| v.is_finite()) else {
        return "—".to_string();
    };
    match unit {
        Unit::Ms => format!("{} ms", significant(v)),
        Unit::PerSecond => format!("{}/s", significant(v)),
        Unit::Fraction => format!("{:.2} %", v * 100.0),
        Unit::KbPerCall => format!("{v:.2} KB/call"),
        Unit::Mb => format!("{v:.1} MB"),
        Unit::Count => count(v),
    }
}

/// A count: whole, or with a decimal when it is a mean of runs.
fn count(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A figure's change: in its unit, and relative to the base where that
/// means something (not for rates, or for memory per call around zero).
fn change(figure: &Figure) -> String {
    let Some(moved) = figure.change().filter(|c| c.is_finite()) else {
        return "—".to_string();
    };
    let sign = if moved > 0.0 { "+" } else { "" };
    let absolute = match figure.unit {
        Unit::Ms => format!("{sign}{} ms", significant(moved)),
        Unit::PerSecond => format!("{sign}{}/s", significant(moved)),
        Unit::Fraction => return format!("{sign}{:.2} pts", moved * 100.0),
        Unit::KbPerCall => return format!("{sign}{moved:.2} KB/call"),
        Unit::Mb => format!("{sign}{moved:.1} MB"),
        Unit::Count => format!("{sign}{}", count(moved)),
    };
    match figure.relative().filter(|r| r.is_finite()) {
        Some(relative) => format!("{absolute} ({sign}{:.1} %)", relative * 100.0),
        None => absolute,
    }
}

/// Three significant figures or so, never in exponent form.
fn significant(v: f64) -> String {
    let magnitude = v.abs();
    if magnitude >= 100.0 {
        format!("{v:.0}")
    } else if magnitude >= 10.0 {
        format!("{v:.1}")
    } else if magnitude >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn cell(text: &str) -> String {
    markdown_cell(text, NAME_CHARS)
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_text_stays_text_in_a_cell() {
        let said = cell("a|b `c` <img> [l](x)\nnext");
        assert_eq!(said, "a\\|b \\`c\\` \\<img\\> \\[l\\](x)\\\\u{a}next");
        assert!(cell(&"x".repeat(10_000)).len() < 400);
    }

    #[test]
    fn changes_read_in_their_units() {
        let figure = |unit, base, new| Figure {
            metric: "p95",
            unit,
            base: Some(base),
            new: Some(new),
            noise: Noise::Beyond,
            unsettled: false,
        };
        assert_eq!(change(&figure(Unit::Ms, 2.0, 2.5)), "+0.500 ms (+25.0 %)");
        assert_eq!(change(&figure(Unit::Fraction, 1.0, 0.95)), "-5.00 pts");
        assert_eq!(
            change(&figure(Unit::KbPerCall, 0.01, 64.0)),
            "+63.99 KB/call"
        );
        assert_eq!(change(&figure(Unit::Count, 0.0, 3.0)), "+3");
        assert_eq!(value(Unit::Ms, Some(1234.4)), "1234 ms");
        assert_eq!(value(Unit::Ms, None), "—");
    }
}
