//! What the searches for a server's limits found: how many calls a second
//! it takes (a capacity search), how many sessions it holds at once.

use serde::Serialize;

use crate::probe::demand::CpuDemand;

/// A capacity search's result (`kind = "capacity"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityResult {
    /// The objective each step was held to, in words.
    pub objective: String,
    /// The highest rate that met it.
    pub highest_met_per_s: Option<f64>,
    /// The lowest rate that broke it; what broke first there (`errors`,
    /// `latency`, `memory`, `throughput`, or `server_cpu` when the server's
    /// CPU was saturated as the objective broke), and how, in words.
    pub broke_at_per_s: Option<f64>,
    pub broke_first: Option<String>,
    pub broke_on: Option<String>,
    /// The rate at which mcpstorm itself fell behind, ending the search,
    /// and how (late sends, its CPU saturated).
    pub generator_limit_per_s: Option<f64>,
    pub generator_limit_on: Option<String>,
    /// Each rate tried, in order: the latency-vs-throughput curve.
    pub steps: Vec<CapacityStep>,
}

impl CapacityResult {
    /// The result in a sentence: the highest rate met, the one that broke
    /// the objective and how, and mcpstorm's limit if it stopped the search.
    pub fn in_words(&self) -> String {
        let met = self.highest_met_per_s.map_or_else(
            || "no rate tried met the objective".to_string(),
            |rate| format!("{rate:.0} calls/s met the objective ({})", self.objective),
        );
        let broke = match (self.broke_at_per_s, &self.broke_on) {
            (Some(rate), Some(why)) => format!("; {rate:.0} calls/s broke it on {why}"),
            _ => "; no rate tried broke it".to_string(),
        };
        let limit = match (self.generator_limit_per_s, &self.generator_limit_on) {
            (Some(rate), Some(why)) => format!(
                "; the search stopped at {rate:.0} calls/s, mcpstorm's limit, not the server's: {why}"
            ),
            _ => String::new(),
        };
        format!("{met}{broke}{limit}")
    }
}

/// One step of a capacity search: a rate held for a while.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityStep {
    pub rate_per_s: f64,
    /// Calls sent in the step.
    pub calls: u64,
    /// Calls answered within the step, a second.
    pub achieved_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub success_rate: f64,
    /// Sends more than 2 ms behind schedule.
    pub late_sends: u64,
    /// What broke the objective (`None`: met).
    pub broke_on: Option<String>,
    /// What the step cost the server and mcpstorm.
    #[serde(flatten)]
    pub cost: StepCost,
}

/// What a capacity step cost the server and mcpstorm (`load::step_cost`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepCost {
    /// The server's process tree (`None` with no process to read: a URL
    /// without `--pid`, or a server gone by the step's end).
    pub server_cpu: Option<CpuDemand>,
    /// The server tree's RSS at the step's end, in MB.
    pub server_rss_mb: Option<f64>,
    pub mcpstorm_cpu: CpuDemand,
}

/// What a phase of sessions as users found (`kind = "sessions"`): how many
/// sessions the server held at once with the objective met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionsResult {
    /// The objective each window was held to, in words.
    pub objective: String,
    /// Sessions opened, and openings the server refused or failed.
    pub opened: u64,
    pub open_failed: u64,
    /// Sessions open now, and the most open at once (the run's own
    /// counted with the users').
    pub open_now: u64,
    pub most_open: u64,
    /// The most sessions open in a window that met the objective (at its
    /// end, or as any of its calls ended), every window before it having
    /// met it too.
    pub held_sessions: Option<u64>,
    /// Sessions open at the end of the first window that broke it; what
    /// broke first there (`errors`, `latency`, `server_cpu`), and how.
    pub broke_at_sessions: Option<u64>,
    pub broke_first: Option<String>,
    pub broke_on: Option<String>,
    /// Sessions open when mcpstorm itself fell behind, ending the phase,
    /// and how.
    pub generator_limit_at_sessions: Option<u64>,
    pub generator_limit_on: Option<String>,
    /// Each window judged, in order: sessions against latency.
    pub windows: Vec<SessionsWindow>,
}

/// One window of a sessions phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionsWindow {
    /// Its end, from the phase's start.
    pub at_s: f64,
    /// Sessions open at its end.
    pub sessions: u64,
    /// Calls (openings included) that ended in it, and openings that failed.
    pub calls: u64,
    pub open_failed: u64,
    pub p99_ms: f64,
    pub success_rate: f64,
    /// The server's CPU over the window, in cores (`None`: no process).
    pub server_cpu_cores: Option<f64>,
    /// What broke the objective (`None`: met, or no call ended in it).
    pub broke_on: Option<String>,
}

impl SessionsResult {
    /// The result in a sentence.
    pub fn in_words(&self) -> String {
        let held = self.held_sessions.map_or_else(
            || "no window met the objective".to_string(),
            |n| {
                format!(
                    "held {n} sessions at once with the objective met ({})",
                    self.objective
                )
            },
        );
        let broke = match (self.broke_at_sessions, &self.broke_on) {
            (Some(n), Some(why)) => format!("; broke it with {n} open, on {why}"),
            _ => format!(
                "; never broke it (at most {} sessions open)",
                self.most_open
            ),
        };
        let limit = match (self.generator_limit_at_sessions, &self.generator_limit_on) {
            (Some(n), Some(why)) => {
                format!("; stopped at {n} sessions, mcpstorm's limit, not the server's: {why}")
            }
            _ => String::new(),
        };
        let failed = if self.open_failed > 0 {
            format!(
                "; openings failed: {} of {}",
                self.open_failed,
                self.opened + self.open_failed
            )
        } else {
            String::new()
        };
        format!("{held}{broke}{limit}{failed}")
    }
}
