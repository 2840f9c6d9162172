//! Before the load: the server's tools (and prompts) are read once, the
//! automatic mixes are made from them, and every tool and prompt the scenario
//! names is checked against them — a scenario written for another server
//! stops at once with a pointer, instead of measuring "Tool echo not found"
//! for as long as it runs.

use std::time::Duration;

use serde_json::Value;

use super::EngineError;
use crate::client::Session;
use crate::client::catalog;
use crate::protocol::untrusted::{QUOTE_CHARS, quote};
use crate::scenario::template::Template;
use crate::scenario::{Phase, auto_mix};

/// The phases to run, and what to tell the user about them.
pub struct Prepared {
    pub phases: Vec<Phase>,
    /// Labels the automatic mixes added (after the scenario's own).
    pub added_labels: Vec<String>,
    pub notes: Vec<String>,
}

/// What to do next when the server lacks what the scenario calls.
const POINTER: &str = "see what it offers with `mcpstorm discover`, load its read-only tools \
     with `mcpstorm run tools`, or write a scenario for its tools with `mcpstorm init` \
     (each with the same server options)";

/// Names the server lists, or why it lists none.
type Listed = Result<Vec<String>, String>;

/// Read what the phases need from the server and check them against it.
pub async fn prepare(
    session: &Session,
    phases: &[Phase],
    labels: &[String],
    timeout: Duration,
) -> Result<Prepared, EngineError> {
    let named_tools = named(phases, |m| m == "tools/call");
    let named_prompts = named(phases, |m| m == "prompts/get");
    let needs_auto = phases.iter().any(|p| p.mix.auto.is_some());
    let mut prepared = Prepared {
        phases: phases.to_vec(),
        added_labels: Vec::new(),
        notes: Vec::new(),
    };
    if !named_tools.is_empty() || needs_auto {
        let tools = match catalog::tools(session, timeout).await {
            Ok(tools) => tools,
            Err(error) if needs_auto => return Err(EngineError::AutoMix(error.to_string())),
            // No answer to the list is not proof the tools are missing: the
            // load itself will show what the server does.
            Err(error) => {
                prepared.notes.push(format!(
                    "the scenario's tools were not checked against the server's: {error}"
                ));
                return Ok(prepared);
            }
        };
        let listed: Listed = tools
            .as_ref()
            .map(|tools| tools.iter().map(|t| t.name.clone()).collect())
            .map_err(Clone::clone);
        check("tool", &named_tools, &listed)?;
        if needs_auto {
            let tools = tools.map_err(|why| {
                EngineError::AutoMix(format!("the server offers no tools ({why}); {POINTER}"))
            })?;
            let mix = auto_mix::expand_auto(phases, labels, &tools)
                .map_err(|e| EngineError::AutoMix(e.to_string()))?;
            prepared.phases = mix.phases;
            prepared.added_labels = mix.added_labels;
            prepared.notes.extend(mix.skipped);
        }
    }
    if !named_prompts.is_empty() {
        match catalog::prompt_names(session, timeout).await {
            Ok(listed) => check("prompt", &named_prompts, &listed)?,
            Err(error) => prepared.notes.push(format!(
                "the scenario's prompts were not checked against the server's: {error}"
            )),
        }
    }
    Ok(prepared)
}

/// The tool (or prompt) names the phases' calls of `method` use, in order.
fn named(phases: &[Phase], is_method: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for call in phases.iter().flat_map(|p| &p.mix.calls) {
        if !is_method(&call.method) {
            continue;
        }
        let name = match &call.params {
            Some(Template::Fixed(params, _) | Template::Dynamic(params, _)) => {
                params.get("name").and_then(Value::as_str)
            }
            Some(Template::Schema { tool, .. }) => Some(tool.as_str()),
            None => None,
        };
        if let Some(name) = name
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
    }
    names
}

/// Every name the scenario uses must be listed.
fn check(kind: &str, named: &[String], listed: &Listed) -> Result<(), EngineError> {
    if named.is_empty() {
        return Ok(());
    }
    let shown = |names: &[&str]| quote(&names.join(", "), QUOTE_CHARS);
    let listed = match listed {
        Ok(listed) => listed,
        Err(why) => {
            return Err(EngineError::NotOffered(format!(
                "the scenario calls the {kind}(s) {}, but the server offers no {kind}s ({}); \
                 {POINTER}",
                shown(&named.iter().map(String::as_str).collect::<Vec<_>>()),
                quote(why, QUOTE_CHARS),
            )));
        }
    };
    let missing: Vec<&str> = named
        .iter()
        .filter(|name| !listed.contains(name))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let offered: Vec<&str> = listed.iter().map(String::as_str).collect();
    Err(EngineError::NotOffered(format!(
        "the scenario calls the {kind}(s) {}, which the server does not list (it lists {} \
         {kind}(s){}{}); {POINTER}",
        shown(&missing),
        offered.len(),
        if offered.is_empty() { "" } else { ": " },
        shown(&offered),
    )))
}
