//! Scenarios: phases of load with a call mix, and the criteria that judge them.
//! Written as TOML (see `scenarios/`), checked strictly when loaded.

pub(crate) mod auto_mix;
pub(crate) mod autogen;
pub(crate) mod builtin;
mod calls;
pub mod file;
mod json_text;
pub(crate) mod load_keys;
pub(crate) mod template;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::acceptance::Criteria;
use crate::load::LoadModel;
pub use file::ScenarioError;
use template::{MixSchedule, Template};

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it came from: `builtin:NAME` or a file path.
    pub source: String,
    pub call_timeout: Duration,
    pub probe_interval: Duration,
    pub on_crash: OnCrash,
    /// Stop the load after this many calls in a row got no answer
    /// (timeouts, transport errors); `None`: never.
    pub abort_after: Option<u64>,
    pub phases: Vec<Phase>,
    /// Every tool name and method the mixes use (events refer to them by index).
    pub labels: Vec<String>,
    pub criteria: Criteria,
    /// Regression thresholds for `mcpstorm compare` ("p95 +10%"), checked
    /// when the file is read, carried into the report.
    pub regressions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCrash {
    /// Stop the scenario; `crashes == 0` fails.
    Abort,
    /// Start a fresh server, set it up again and go on (`crashes == 0`
    /// still fails; the restart is marked on the time line).
    Restart,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    /// Growth figures count from the end of the warm-up phases.
    pub warmup: bool,
    /// The mix in turns of one entry at a time (`calls_per_turn` or
    /// `turns_each`), so that what each tool keeps can be told apart.
    pub turns: Option<Turns>,
    /// How its calls are made (`crate::load`).
    pub load: Arc<dyn LoadModel>,
    pub mix: CallMix,
}

/// How long a phase's turns are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turns {
    /// `calls_per_turn = N`: N calls in a row of one entry.
    Calls(u64),
    /// `turns_each = N`: each entry gets N turns over the phase, as long as
    /// its planned calls allow (the longer a turn, the more each tool's
    /// share of the calls swings, and the finer what it keeps is told).
    Each(u64),
}

/// How much work a phase does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    Calls(u64),
    Duration(Duration),
}

impl Amount {
    /// The calls it amounts to, when given as calls.
    pub fn calls(self) -> Option<u64> {
        match self {
            Amount::Calls(n) => Some(n),
            Amount::Duration(_) => None,
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Calls(n) => write!(f, "{n} calls"),
            Amount::Duration(d) => write!(f, "{} s", d.as_secs_f64()),
        }
    }
}

/// One kind of call in a mix.
#[derive(Debug, Clone)]
pub struct CallTemplate {
    pub method: String,
    /// Index into the scenario's labels.
    pub label: usize,
    /// `params` of the request (`name` and `arguments` for tools/call, …).
    pub params: Option<Template>,
    /// tools/call only: text the result must contain (a check for mix-ups).
    pub expect_text: Option<Template>,
}

impl CallTemplate {
    pub fn is_tool_call(&self) -> bool {
        self.method == "tools/call"
    }
}

/// `auto = true`: every read-only tool the server lists (plus `include`,
/// minus `exclude`), with arguments generated from each tool's input schema.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoMix {
    /// The weight of each tool the automatic mix calls.
    pub weight: u64,
    /// Tools to call even when not annotated read-only: the user's explicit consent.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// `arguments`: values for a property of that name, in every tool that
    /// declares one (a path, an id a schema cannot tell how to make).
    pub arguments: serde_json::Map<String, Value>,
    /// `tool_arguments`: values for one tool's properties, over `arguments`.
    pub tool_arguments: Vec<(String, serde_json::Map<String, Value>)>,
}

#[derive(Debug, Clone)]
pub struct CallMix {
    pub calls: Vec<CallTemplate>,
    pub weights: Vec<u64>,
    pub schedule: MixSchedule,
    /// Expanded into `calls` once the server's tools are known.
    pub auto: Option<AutoMix>,
}

impl CallMix {
    pub fn new(calls: Vec<CallTemplate>, weights: Vec<u64>, auto: Option<AutoMix>) -> Self {
        let schedule = MixSchedule::new(&weights, 1);
        CallMix {
            calls,
            weights,
            schedule,
            auto,
        }
    }

    /// The same calls made in turns of one entry at a time (a phase's
    /// `turns`, over its `planned_calls`); `None` leaves them interleaved.
    pub fn in_turns(self, turns: Option<Turns>, planned_calls: Option<u64>) -> Self {
        let turn = match turns {
            Some(Turns::Calls(calls)) => calls,
            // A round gives every entry its turns by weight; the phase
            // makes `each` rounds. Checked when the scenario is read: a
            // phase in `turns_each` plans its calls.
            Some(Turns::Each(each)) => {
                planned_calls.unwrap_or(0) / (self.schedule.steps() * each).max(1)
            }
            None => return self,
        };
        CallMix {
            schedule: MixSchedule::new(&self.weights, turn.max(1)),
            ..self
        }
    }

    pub fn pick(&self) -> &CallTemplate {
        &self.calls[self.schedule.pick()]
    }
}

impl Scenario {
    /// True when some phase's mix waits for the server's tool list.
    pub fn has_auto_mix(&self) -> bool {
        self.phases.iter().any(|p| p.mix.auto.is_some())
    }

    /// Add tools to every automatic mix's `include` and `exclude` (the
    /// command line's --include and --exclude).
    /// Hold its capacity searches to `objective` (`--slo`); whether it has
    /// any.
    pub fn hold_to(&mut self, objective: &crate::load::Objective) -> bool {
        let mut held = false;
        for phase in &mut self.phases {
            if let Some(load) = phase.load.with_objective(objective) {
                phase.load = load;
                held = true;
            }
        }
        held
    }

    /// This segment's share of every phase (`--segment`), or why a phase
    /// cannot be split.
    pub fn split(&mut self, segment: crate::load::Segment) -> Result<(), String> {
        for phase in &mut self.phases {
            phase.load = phase.load.segment(segment).map_err(|why| {
                format!(
                    "scenario {:?}, phase {:?} ({}) cannot be split: {why}",
                    self.name, phase.name, phase.load
                )
            })?;
        }
        Ok(())
    }

    pub fn include_and_exclude(&mut self, include: &[String], exclude: &[String]) {
        for auto in self.phases.iter_mut().filter_map(|p| p.mix.auto.as_mut()) {
            auto.include.extend(include.iter().cloned());
            auto.exclude.extend(exclude.iter().cloned());
        }
    }
}

/// Params of a request as the MCP method expects them.
pub fn method_params(
    method: &str,
    tool: Option<&str>,
    uri: Option<&str>,
    prompt: Option<&str>,
    arguments: Option<Value>,
) -> Option<Value> {
    let mut params = serde_json::Map::new();
    match method {
        "tools/call" => {
            params.insert("name".into(), Value::from(tool?));
            params.insert(
                "arguments".into(),
                arguments.unwrap_or_else(|| Value::Object(Default::default())),
            );
        }
        "resources/read" => {
            params.insert("uri".into(), Value::from(uri?));
        }
        "prompts/get" => {
            params.insert("name".into(), Value::from(prompt?));
            if let Some(arguments) = arguments {
                params.insert("arguments".into(), arguments);
            }
        }
        _ => return None,
    }
    Some(Value::Object(params))
}

/// Load a scenario by built-in name or file path.
/// The largest scenario file read: a scenario is a page of TOML, and
/// `mcpstorm check /dev/zero` must not read for ever.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

fn read_bounded(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} KB: a scenario is a page of TOML",
            MAX_FILE_BYTES / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|e| std::io::Error::other(format!("not UTF-8 text ({e})")))
}

pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    if let Some(text) = builtin::get(name_or_path) {
        return file::parse(text, &format!("builtin:{name_or_path}"));
    }
    let path = std::path::Path::new(name_or_path);
    if path.exists() {
        let text = read_bounded(path).map_err(|source| ScenarioError::Io {
            file: name_or_path.to_string(),
            source,
        })?;
        return file::parse(&text, name_or_path);
    }
    Err(ScenarioError::Unknown {
        name: name_or_path.to_string(),
        builtins: builtin::names().join(", "),
    })
}
