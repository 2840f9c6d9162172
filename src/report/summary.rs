//! The text summary output: each scenario's summary as it ends, and the
//! run's verdict line, on stdout (on stderr when stdout carries the JSON
//! report), PASS in green and FAIL in red on a terminal.

use std::fmt::Write;

use super::{Output, OutputError, Report, ScenarioResult, Verdict};
use crate::acceptance::CriterionState;
use crate::protocol::untrusted::{QUOTE_CHARS, quote};
use crate::stats::attribution::{DESCRIPTORS, MEMORY, Resource};
use crate::stats::{Attribution, CallStats, LabelPerCall, PhaseState, Snapshot};

pub struct TextSummary {
    pub to_stderr: bool,
    /// Colour the verdicts (stdout is a terminal).
    pub color: bool,
}

impl TextSummary {
    fn print(&self, text: &str) {
        if self.to_stderr {
            eprint!("{text}");
        } else {
            out!("{text}");
        }
    }
}

impl Output for TextSummary {
    fn scenario(&self, result: &ScenarioResult) {
        self.print(&scenario_summary(result, self.color));
    }

    fn finish(&self, report: &Report) -> Result<(), OutputError> {
        let passed = report
            .scenarios
            .iter()
            .filter(|s| s.verdict == Verdict::Pass)
            .count();
        if report.target.tls_unverified {
            self.print(
                "mcpstorm: warning: --insecure: the server's TLS certificate was not checked; \
                 who answered these calls is not known\n",
            );
        }
        self.print(&format!(
            "mcpstorm: {} of {} scenario(s) passed — {}\n",
            passed,
            report.scenarios.len(),
            verdict_word(report.verdict, false)
        ));
        Ok(())
    }
}

/// A verdict's word, bold and coloured when `color`.
fn verdict_word(verdict: Verdict, color: bool) -> String {
    match verdict {
        Verdict::Pass => paint("PASS", "1;32", color),
        Verdict::Fail => paint("FAIL", "1;31", color),
        Verdict::Error => "ERROR".to_string(),
    }
}

/// A criterion's state, padded to `width`: a final PASS green, a final FAIL red.
fn state_word(state: CriterionState, width: usize, color: bool) -> String {
    let word = state.word();
    let pad = " ".repeat(width.saturating_sub(word.len()));
    let painted = match state {
        CriterionState::Pass => paint(word, "32", color),
        CriterionState::Fail => paint(word, "31", color),
        _ => word.to_string(),
    };
    painted + &pad
}

/// `text` in the terminal's SGR style `code`, when `color`.
fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Most processes of the tree listed one by one in a summary.
const TREE_LINES: usize = 8;

/// Milliseconds with precision that suits their size.
pub fn ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3}")
    } else if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

pub fn percent(rate: Option<f64>) -> String {
    rate.map_or("-".into(), |r| format!("{:.2}%", r * 100.0))
}

fn stats_columns(stats: &CallStats) -> String {
    let mut out = format!("{:>7} {:>8}", stats.calls, percent(stats.success_rate));
    match &stats.latency {
        Some(l) => {
            for v in [l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.max_ms] {
                let _ = write!(out, " {:>8}", ms(v));
            }
        }
        None => out.push_str(&format!(" {:>8}", "-").repeat(5)),
    }
    let _ = write!(out, " {:>9.0}", stats.throughput_per_s);
    out
}

const HEADER: &str = "  calls       ok      p50      p90      p95      p99      max   calls/s";

/// Labels listed one by one in a kept-per-call line.
const RETAINED_LABELS: usize = 8;

/// Each phase's own growth and trend, when there is more than one phase:
/// a leak that only one phase's calls cause shows there at full strength,
/// where the whole run's trend dilutes it.
fn memory_by_phase(out: &mut String, s: &Snapshot) {
    let phases: Vec<_> = s
        .phases
        .iter()
        .filter_map(|p| Some((p, p.memory?)))
        .collect();
    if phases.len() < 2 {
        return;
    }
    let figures: Vec<String> = phases
        .iter()
        .map(|(p, m)| {
            let trend = m.rss_trend.map_or(String::new(), |t| {
                let settling = if t.settling.is_some() {
                    ", not settled"
                } else {
                    ""
                };
                format!(
                    ", {:+.1} KB/call (95 % {:+.1} to {:+.1}{settling})",
                    t.kb_per_call, t.kb_per_call_low, t.kb_per_call_high
                )
            });
            format!("{} {:+.1} MB{trend}", p.name, m.rss_growth_mb)
        })
        .collect();
    let _ = writeln!(out, "    by phase: {}", figures.join(" · "));
}

/// What each tool keeps per call, the largest first, when more than one was
/// called (with one, it is the trend above): memory when it could be told
/// apart, or why not when the server surely kept some (the whole trend's
/// interval above half a KB a call: then which tool is the question); file descriptors
/// when some tool keeps any.
fn kept_by_label(out: &mut String, s: &Snapshot) {
    let r = &s.resources;
    let called = s.per_label.iter().filter(|l| l.stats.calls > 0).count();
    if called < 2 {
        return;
    }
    // Surely more than the attribution's resolution: an allocator settling
    // in (a few hundredths of a KB a call) raises no question of which tool.
    let resolution = MEMORY.resolution;
    let kept_some = r.rss_trend.is_some_and(|t| t.kb_per_call_low > resolution);
    match &r.retained_by_label_unmeasured {
        Some(why) if kept_some => {
            let _ = writeln!(out, "    retained per call by tool: {why}");
        }
        Some(_) => {}
        None => kept_line(
            out,
            "retained per call by tool",
            "KB",
            MEMORY,
            r.retained_attribution(),
        ),
    }
    // A tool surely keeping descriptors: its whole interval above zero.
    if r.fds_by_label.iter().any(|l| l.low > 0.0) {
        kept_line(
            out,
            "file descriptors kept per call by tool",
            "",
            DESCRIPTORS,
            r.fds_attribution(),
        );
    }
}

fn kept_line(out: &mut String, what: &str, unit: &str, resource: Resource, kept: Attribution) {
    let mut by_size: Vec<_> = kept.figures.iter().collect();
    by_size.sort_by(|a, b| b.per_call.total_cmp(&a.per_call));
    if by_size.is_empty() {
        return;
    }
    let decimals = resource.decimals;
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    let listed: Vec<String> = by_size
        .iter()
        .take(RETAINED_LABELS)
        .map(|l| {
            format!(
                "{} {:+.decimals$}{unit} ({:+.decimals$} … {:+.decimals$})",
                l.label, l.per_call, l.low, l.high
            )
        })
        .collect();
    let _ = writeln!(out, "    {what} (floor fit, 95 %): {}", listed.join(", "));
    let verdict = kept_verdict(&by_size, &unit, resource);
    // At the end the figures stand as they are; this says they may still be
    // a heap's first rise.
    let caveat = if kept.settling.is_some() {
        "floor not settled (as the trend): "
    } else {
        ""
    };
    let _ = writeln!(out, "      → {caveat}{verdict}");
}

/// What the figures say, in words: the labels surely keeping more than the
/// resolution (named), those resolved and not (cleared, with the most any
/// may keep), those whose interval is still too wide to say either.
fn kept_verdict(by_size: &[&LabelPerCall], unit: &str, resource: Resource) -> String {
    let decimals = resource.decimals;
    // "a", "a and b", "a, b and c"; and the verb that agrees.
    let names = |figures: &[&&LabelPerCall]| {
        let mut names: Vec<&str> = figures.iter().map(|l| l.label.as_str()).collect();
        let last = names.pop().unwrap_or_default();
        if names.is_empty() {
            last.to_string()
        } else {
            format!("{} and {last}", names.join(", "))
        }
    };
    let keep = |figures: &[&&LabelPerCall]| if figures.len() == 1 { "keeps" } else { "keep" };
    let (named, rest): (Vec<&&LabelPerCall>, Vec<_>) = by_size
        .iter()
        .partition(|l| l.resolved && l.low > resource.resolution);
    let (cleared, open): (Vec<&&LabelPerCall>, Vec<_>) = rest.into_iter().partition(|l| l.resolved);
    let mut said = Vec::new();
    if !named.is_empty() {
        said.push(format!(
            "{} {} {}",
            names(&named),
            keep(&named),
            resource.kept
        ));
    }
    if let Some(most) = cleared.iter().map(|l| l.high).reduce(f64::max) {
        let who = if named.is_empty() && open.is_empty() {
            "no tool keeps".to_string()
        } else {
            format!("{} {} no", names(&cleared), keep(&cleared))
        };
        said.push(format!(
            "{who} more than {:.decimals$}{unit} a call",
            most.max(0.0)
        ));
    }
    if let Some(widest) = open.iter().map(|l| (l.high - l.low) / 2.0).reduce(f64::max) {
        let which = if open.len() > 1 && open.len() == by_size.len() {
            "any tool".to_string()
        } else {
            names(&open)
        };
        said.push(format!(
            "not resolved for {which} (±{widest:.decimals$}{unit} a call, resolution {:.decimals$}): \
             more turns and collection cycles narrow it",
            resource.resolution
        ));
    }
    said.join("; ")
}

/// The full summary of one scenario, its verdicts coloured when `color`.
/// The times mcpstorm itself did not run, in words: the latency of the
/// calls in flight then is not the server's alone.
pub fn stalls_line(s: &Snapshot) -> Option<String> {
    let count = s.stalls.len() as u64 + s.stalls_not_listed;
    let longest = s
        .stalls
        .iter()
        .max_by(|a, b| a.lasted_s.total_cmp(&b.lasted_s))?;
    let total_s: f64 = s.stalls.iter().map(|stall| stall.lasted_s).sum();
    let listed = if s.stalls_not_listed > 0 {
        " in those listed"
    } else {
        ""
    };
    Some(format!(
        "mcpstorm itself stalled {count} time(s), {total_s:.1} s in all{listed}, the longest \
         {:.1} s at {:.1} s: calls in flight then were timed through it, not slowed by the server",
        longest.lasted_s, longest.at_s
    ))
}

pub fn scenario_summary(result: &ScenarioResult, color: bool) -> String {
    let mut out = String::new();
    let verdict = verdict_word(result.verdict, color);
    let _ = write!(out, "━━ {} ━━ {verdict}", result.name);
    match &result.incomplete {
        Some(why) => {
            let _ = writeln!(out, " (incomplete: {why})");
        }
        None => out.push('\n'),
    }
    if let Some(error) = &result.error {
        let _ = writeln!(out, "  could not run: {error}");
        return out;
    }
    let Some(s) = &result.result else {
        return out;
    };
    if let Some(server) = &s.server {
        let at = s
            .endpoint
            .as_ref()
            .map(|url| format!(" · at {url}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  server {} {} · protocol {}{at} · {:.1} s",
            server.name, server.version, server.protocol_version, s.elapsed_s
        );
    }
    let _ = writeln!(
        out,
        "  {:<12} {:<28}{HEADER} (latency in ms)",
        "phase", "load"
    );
    for phase in &s.phases {
        let state = match phase.state {
            PhaseState::Skipped => " (skipped)",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {:<12} {:<28}{}{state}",
            phase.name,
            phase.load,
            stats_columns(&phase.stats)
        );
        if phase.late_sends > 0 {
            let _ = writeln!(
                out,
                "  {:<12} {} sends left more than 2 ms behind schedule (worst {} ms)",
                "",
                phase.late_sends,
                ms(phase.max_send_lag_ms)
            );
        }
    }
    if s.per_label.len() > 1 || s.per_label.iter().any(|l| l.stats.outcomes.errors() > 0) {
        let _ = writeln!(out, "  {:<41}{HEADER}", "per tool / method");
        for label in &s.per_label {
            let _ = writeln!(
                out,
                "    {:<39}{}",
                label.label,
                stats_columns(&label.stats)
            );
        }
    }
    let o = &s.total.outcomes;
    let _ = writeln!(
        out,
        "  outcomes: ok {} · jsonrpc_error {} · tool_error {} · timeout {} · transport_error {} · protocol_error {}",
        o.ok, o.jsonrpc_error, o.tool_error, o.timeout, o.transport_error, o.protocol_error
    );
    for phase in &s.phases {
        let Some(churn) = &phase.churn else {
            continue;
        };
        let kept = match (&churn.retained_unmeasured, churn.retained_kb_per_session) {
            (Some(why), _) => why.clone(),
            (None, Some(kb)) => format!(
                "memory kept {kb:.1} KB/session (95 % interval {:.1} … {:.1}; {} collection(s) \
                 in the sessions fitted)",
                churn.retained_kb_low.unwrap_or(kb),
                churn.retained_kb_high.unwrap_or(kb),
                churn.collections
            ),
            (None, None) => "memory kept: no figure yet".to_string(),
        };
        let _ = writeln!(
            out,
            "  churn {}: {} session(s) · {kept}",
            phase.name, churn.sessions
        );
    }
    // A run whose calls mostly failed measured the error path: say so in words.
    let calls = s.total.calls;
    if calls > 0 && o.ok * 2 < calls {
        let _ = writeln!(
            out,
            "  most calls failed ({} of {calls}): the figures above measure the error path, not the work",
            calls - o.ok
        );
    }
    let never: Vec<&str> = s
        .per_label
        .iter()
        .filter(|l| l.stats.calls > 0 && l.stats.outcomes.ok == 0)
        .map(|l| l.label.as_str())
        .collect();
    if !never.is_empty() {
        let _ = writeln!(out, "  never succeeded: {}", never.join(", "));
    }
    let unanswered = o.timeout + o.transport_error;
    if unanswered > 0 {
        let rule = match s.abort_after {
            Some(n) => format!("the run stops after {n} in a row"),
            None => "the run never stops for them".to_string(),
        };
        let _ = writeln!(
            out,
            "  {unanswered} call(s) got no answer; {rule} (abort_after_consecutive_failures)"
        );
    }
    if let Some(c) = &s.coldstart {
        let st = &c.stage_means;
        let _ = writeln!(
            out,
            "  cold start: {} iterations ({} failed) · mean {} ms · std-dev {} ms · min {} · max {} (range {} ms)",
            c.iterations,
            c.failed,
            ms(c.mean_ms),
            ms(c.stddev_ms),
            ms(c.min_ms),
            ms(c.max_ms),
            ms(c.range_ms)
        );
        let _ = writeln!(
            out,
            "    mean stages: spawn {} · initialize {} · first call {} · exit {} ms",
            ms(st.spawn_ms),
            ms(st.initialize_ms),
            ms(st.first_call_ms),
            ms(st.exit_ms)
        );
    }
    let r = &s.resources;
    if let Some(reason) = &r.unmeasured {
        let _ = writeln!(out, "  server tree: {reason}");
    }
    if r.sampled {
        let mb = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        let _ = write!(
            out,
            "  server tree (pid {}, {} process(es)): RSS {} → {} MB (baseline {}, max {}",
            r.pid.unwrap_or(0),
            r.processes.unwrap_or(0),
            mb(r.rss_start_mb),
            mb(r.rss_current_mb),
            mb(r.rss_baseline_mb),
            mb(r.rss_max_mb)
        );
        if let Some(growth) = r.rss_growth_mb {
            let _ = write!(out, ", growth {growth:+.1} MB");
        }
        out.push(')');
        if let Some(t) = &r.rss_trend {
            let _ = write!(
                out,
                " · trend {:+.2} MB/1k calls ({:+.1} KB/call, 95 % {:+.1} to {:+.1}",
                t.mb_per_1k_calls, t.kb_per_call, t.kb_per_call_low, t.kb_per_call_high
            );
            if let Some(steady) = t.steady_for_s.filter(|_| t.settling.is_none()) {
                let _ = write!(out, "; steady {steady:.0} s");
            }
            if let Some(half) = t.later_half {
                let _ = write!(
                    out,
                    "; the later half's, from call {:.0}: the whole run's {:+.1} KB/call",
                    half.from_calls, half.whole_run_kb_per_call
                );
            }
            out.push(')');
            if let Some(why) = t.settling {
                let _ = write!(
                    out,
                    "
    trend not settled: {why}"
                );
            }
        }
        if let Some(pss) = r.pss_current_mb {
            let _ = write!(
                out,
                "\n    PSS {} → {pss:.1} MB (baseline {}, max {}",
                mb(r.pss_start_mb),
                mb(r.pss_baseline_mb),
                mb(r.pss_max_mb)
            );
            if let Some(growth) = r.pss_growth_mb {
                let _ = write!(out, ", growth {growth:+.1} MB");
            }
            out.push_str("): shared pages counted once");
        }
        let _ = writeln!(
            out,
            "\n    FDs {} → {} (max {}) · threads max {} · CPU max {:.0}%",
            r.fds_start.unwrap_or(0),
            r.fds_current.unwrap_or(0),
            r.fds_max.unwrap_or(0),
            r.threads_max.unwrap_or(0),
            r.cpu_max_percent.unwrap_or(0.0)
        );
        if r.members.len() > 1 {
            // Each process's own growth: a wrapper that frees memory hides a
            // leak in the sum.
            for m in r.members.iter().take(TREE_LINES) {
                let growth = m
                    .rss_growth_mb
                    .map_or(String::new(), |g| format!(", growth {g:+.1} MB"));
                let pss = m.pss_mb.map_or(String::new(), |p| format!(", PSS {p:.1}"));
                let trend = m
                    .rss_trend_kb_per_call
                    .map_or(String::new(), |t| format!(", trend {t:+.1} KB/call"));
                let _ = writeln!(
                    out,
                    "    {}pid {} {}: RSS {:.1} MB{pss}{growth}{trend}",
                    "  ".repeat(m.depth.min(4) as usize),
                    m.pid,
                    m.name,
                    m.rss_mb
                );
            }
        }
        memory_by_phase(&mut out, s);
        kept_by_label(&mut out, s);
        if let Some(changes) = &r.tree_changes {
            let _ = writeln!(
                out,
                "    the tree changed during the run: {} process(es) started, {} ended ({}); \
                 growth figures of the whole tree mix them",
                changes.started,
                changes.ended,
                changes.examples.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "    mcpstorm itself: RSS {:.1} MB (max {:.1}), CPU {:.0}%",
            r.self_rss_mb.unwrap_or(0.0),
            r.self_rss_max_mb.unwrap_or(0.0),
            r.self_cpu_percent.unwrap_or(0.0)
        );
    }
    let w = &s.wire;
    let _ = writeln!(
        out,
        "  wire: correlation violations {} (duplicate {}, unknown {}, missing {}, mixed-up {}) · late responses {} · protocol violations {} · notifications {} · server requests {}",
        w.correlation_violations,
        w.duplicate_ids,
        w.unknown_ids,
        w.missing_ids,
        w.mixups,
        w.late_responses,
        w.protocol_violations,
        w.notifications,
        w.server_requests
    );
    if w.cancellations_sent > 0 {
        let _ = writeln!(
            out,
            "  cancelled: notifications/cancelled sent for {} call(s) that timed out",
            w.cancellations_sent
        );
    }
    if let (Some(p50), Some(p99), Some(max)) = (
        w.connection_setup_p50_ms,
        w.connection_setup_p99_ms,
        w.connection_setup_max_ms,
    ) {
        let tls = match w.tls_handshakes {
            0 => String::new(),
            n => format!(" · TLS handshakes {n}, {} resumed", w.tls_resumed),
        };
        let http = match (w.http2_connections, w.connections_opened) {
            (0, _) => "",
            (http2, opened) if http2 == opened => " · HTTP/2",
            _ => " · HTTP/2 and HTTP/1.1",
        };
        let _ = writeln!(
            out,
            "  connections: {} opened{http}, setup p50 {} · p99 {} · max {} ms (TCP, TLS and HTTP handshakes; not in the calls' latency){tls}",
            w.connections_opened,
            ms(p50),
            ms(p99),
            ms(max)
        );
    }
    if w.token_fetches + w.auth_failures > 0 {
        let timing = match (w.token_fetch_mean_ms, w.token_fetch_max_ms) {
            (Some(mean), Some(max)) => format!(
                " (mean {} · max {} ms; not in the calls' latency)",
                ms(mean),
                ms(max)
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  auth: {} token fetch(es){timing}, {} without a token · requests refused for their credentials (401/403) {}",
            w.token_fetches, w.token_fetches_failed, w.auth_failures
        );
    }
    if w.sessions_expired + w.http_errors > 0 {
        let _ = writeln!(
            out,
            "  http: sessions lost (404, opened again) {} · error statuses {}",
            w.sessions_expired, w.http_errors
        );
    }
    for sample in w.violation_samples.iter().take(3) {
        let _ = writeln!(out, "    e.g. {sample}");
    }
    for phase in &s.phases {
        let Some(tallies) = &phase.bad_inputs else {
            continue;
        };
        let _ = writeln!(
            out,
            "  bad inputs ({}): {:<34} {:<28} what the server did",
            phase.name, "input", "expected"
        );
        for tally in tallies {
            let verdict = if tally.mishandled() == 0 { "ok" } else { "BAD" };
            let answers: Vec<String> = tally
                .answers
                .iter()
                .map(|(answer, n)| format!("{answer} ×{n}"))
                .collect();
            let _ = writeln!(
                out,
                "    {verdict:<3} {:<34} {:<28} {}",
                tally.input,
                tally.expected,
                answers.join(", ")
            );
        }
    }
    if !s.recent_errors.is_empty() {
        let _ = writeln!(out, "  last errors:");
        for error in s.recent_errors.iter().rev().take(3) {
            let _ = writeln!(out, "    {error}");
        }
    }
    for note in &s.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    if !s.control_changes.is_empty() {
        let changes: Vec<String> = s
            .control_changes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let before = i.checked_sub(1).and_then(|b| s.control_changes.get(b));
                format!("at {:.1} s {}", c.at_s, c.describe(before))
            })
            .collect();
        let more = match s.control_changes_not_listed {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        let _ = writeln!(
            out,
            "  paused and load, as set by hand: {}{more}",
            changes.join(" · ")
        );
    }
    if let Some(stalls) = stalls_line(s) {
        let _ = writeln!(out, "  {stalls}");
    }
    if !s.criteria.is_empty() {
        let _ = writeln!(out, "  criteria:");
        for c in &s.criteria {
            let _ = writeln!(
                out,
                "    {} {:<40} {}",
                state_word(c.state, 5, color),
                c.expression,
                c.detail
            );
            // The scenario file's words: shown escaped, like any text from outside.
            if let Some(about) = &c.about {
                let _ = writeln!(out, "          ({})", quote(about, QUOTE_CHARS));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{CriterionStatus, NotAttributed, Snapshot};

    fn judged(states: &[CriterionState]) -> ScenarioResult {
        let mut snapshot = Snapshot::default();
        snapshot.total.calls = 1;
        snapshot.finished = true;
        snapshot.criteria = states
            .iter()
            .map(|&state| CriterionStatus {
                expression: "crashes == 0".into(),
                state,
                value: None,
                threshold: None,
                detail: "crashes = 0".into(),
                about: Some("a note saying FAIL and PASS ".into()),
                caps: None,
                changes: Vec::new(),
                changes_not_listed: 0,
            })
            .collect();
        ScenarioResult::judged("s", "", "built-in", snapshot)
    }

    #[test]
    fn verdicts_are_coloured_where_they_stand_and_nowhere_else() {
        let result = judged(&[CriterionState::Pass, CriterionState::Fail]);
        let plain = scenario_summary(&result, false);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(plain.starts_with("━━ s ━━ FAIL\n"), "{plain}");
        assert!(plain.contains("    PASS  crashes == 0"), "{plain}");
        let painted = scenario_summary(&result, true);
        assert!(
            painted.starts_with("━━ s ━━ \x1b[1;31mFAIL\x1b[0m\n"),
            "{painted}"
        );
        assert!(
            painted.contains("    \x1b[32mPASS\x1b[0m  crashes == 0"),
            "{painted}"
        );
        assert!(
            painted.contains("    \x1b[31mFAIL\x1b[0m  crashes == 0"),
            "{painted}"
        );
        // The scenario's own words are not painted, whatever they say.
        assert!(
            painted.contains("(a note saying FAIL and PASS )"),
            "{painted}"
        );
        assert_eq!(painted.matches('\x1b').count(), 6, "{painted}");
    }

    /// A passing run that called `labels` ten times each, its server sampled.
    fn calling(labels: &[&str]) -> ScenarioResult {
        let mut result = judged(&[CriterionState::Pass]);
        let snapshot = result.result.as_mut().unwrap();
        for label in labels {
            snapshot.per_label.push(crate::stats::LabelStats {
                label: label.to_string(),
                stats: crate::stats::CallStats {
                    calls: 10,
                    ..Default::default()
                },
            });
        }
        snapshot.resources.sampled = true;
        result
    }

    #[test]
    fn the_tools_figures_name_the_keeper_clear_the_others_and_say_what_is_unresolved() {
        let mut result = calling(&["echo", "add", "sleep"]);
        let figure = |label: &str, per_call: f64, half: f64, resolved| LabelPerCall {
            label: label.into(),
            per_call,
            low: per_call - half,
            high: per_call + half,
            resolved,
        };
        let verdict = |result: &ScenarioResult, figures: Vec<LabelPerCall>| {
            let mut result = result.clone();
            result.result.as_mut().unwrap().resources.retained_by_label = figures;
            let text = scenario_summary(&result, false);
            text.lines()
                .skip_while(|l| !l.contains("retained per call by tool"))
                .nth(1)
                .unwrap_or_else(|| panic!("no verdict line:\n{text}"))
                .to_string()
        };
        let line = verdict(
            &result,
            vec![
                figure("echo", 0.0, 0.1, true),
                figure("add", 16.0, 0.2, true),
                figure("sleep", 0.1, 0.2, true),
            ],
        );
        assert_eq!(
            line,
            "      → add keeps memory; sleep and echo keep no more than 0.3 KB a call"
        );
        let line = verdict(
            &result,
            vec![
                figure("echo", 0.0, 0.1, true),
                figure("add", 0.1, 0.2, true),
                figure("sleep", -0.1, 0.2, true),
            ],
        );
        assert_eq!(line, "      → no tool keeps more than 0.3 KB a call");
        let line = verdict(
            &result,
            vec![
                figure("echo", 2.4, 3.0, false),
                figure("add", 16.0, 0.2, true),
                figure("sleep", 0.0, 0.1, true),
            ],
        );
        assert!(
            line.starts_with("      → add keeps memory; sleep keeps no more than 0.1 KB"),
            "{line}"
        );
        assert!(
            line.ends_with("not resolved for echo (±3.0 KB a call, resolution 0.5): more turns and collection cycles narrow it"),
            "{line}"
        );
        let line = verdict(
            &result,
            vec![
                figure("echo", 2.4, 3.0, false),
                figure("add", 0.1, 2.0, false),
            ],
        );
        assert_eq!(
            line,
            "      → not resolved for any tool (±3.0 KB a call, resolution 0.5): more turns and \
             collection cycles narrow it"
        );
        // A floor not known yet: the figures stand, with the caveat.
        result.result.as_mut().unwrap().resources.rss_trend =
            Some(crate::stats::RssTrend::on_a_first_rise(5.0, 1.0));
        let line = verdict(&result, vec![figure("add", 16.0, 0.2, true)]);
        assert_eq!(
            line,
            "      → floor not settled (as the trend): add keeps memory"
        );
    }

    #[test]
    fn why_tools_cannot_be_told_apart_is_said_only_when_memory_was_kept() {
        let mut result = calling(&["echo", "add"]);
        let snapshot = result.result.as_mut().unwrap();
        snapshot.resources.retained_by_label_unmeasured = Some(NotAttributed::Inseparable);
        let line = format!("retained per call by tool: {}", NotAttributed::Inseparable);
        assert!(!scenario_summary(&result, false).contains(&line));
        let trend = |low: f64| crate::stats::RssTrend {
            collections: 0,
            ..crate::stats::RssTrend::between(low, low + 2.0)
        };
        let snapshot = result.result.as_mut().unwrap();
        snapshot.resources.rss_trend = Some(trend(-0.5));
        assert!(!scenario_summary(&result, false).contains(&line));
        // A healthy allocator settling in: surely above zero, not above
        // what a tool could be told to keep.
        let snapshot = result.result.as_mut().unwrap();
        snapshot.resources.rss_trend = Some(trend(0.03));
        assert!(!scenario_summary(&result, false).contains(&line));
        let snapshot = result.result.as_mut().unwrap();
        snapshot.resources.rss_trend = Some(trend(3.0));
        assert!(scenario_summary(&result, false).contains(&line));
    }
}
