//! The automatic mix (`auto = true`): once the server's tools are known,
//! each is called with arguments made from its input schema — the
//! read-only ones, and those the scenario names.

use super::autogen;
use super::template::{CallContext, Template, TemplateError};
use super::{AutoMix as AutoMixEntry, CallMix, CallTemplate, Phase};
use crate::client::catalog::Tool;
use crate::protocol::untrusted::{QUOTE_CHARS, quote};

/// Longest tool name shown as a label.
const LABEL_CHARS: usize = 100;

/// What the automatic mixes became.
#[derive(Debug)]
pub struct AutoMix {
    pub phases: Vec<Phase>,
    /// Labels that were not known before (appended after the scenario's).
    pub added_labels: Vec<String>,
    /// Tools left out, and why (their schema cannot be met within budget).
    pub skipped: Vec<String>,
}

/// Expand the automatic mixes of `phases` once the server's tools are known.
/// Returns the phases with every `auto` entry replaced by one call per chosen
/// tool, and the labels that were not known before (appended after `labels`).
/// Why an automatic mix cannot be made against this server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutoMixError {
    #[error(
        "phase {phase}: {key} names `{name}`, which the server does not list (it lists: {listed})"
    )]
    NotListed {
        phase: String,
        key: &'static str,
        name: String,
        listed: String,
    },
    #[error(
        "phase {phase}: the server lists no read-only tool that can be called (tools: \
         {listed}){skipped}; name the ones that are safe to call with include = [...]"
    )]
    NothingToCall {
        phase: String,
        listed: String,
        /// Why each tool left out was, each after "; ".
        skipped: String,
    },
    #[error("phase {phase}: tool_arguments of `{tool}`: {error}")]
    Values {
        phase: String,
        tool: String,
        error: TemplateError,
    },
}

pub fn expand_auto(
    phases: &[Phase],
    labels: &[String],
    tools: &[Tool],
) -> Result<AutoMix, AutoMixError> {
    let mut added: Vec<String> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut expanded = Vec::with_capacity(phases.len());
    for phase in phases {
        let Some(auto) = &phase.mix.auto else {
            expanded.push(phase.clone());
            continue;
        };
        let listed: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        let named = auto.include.iter().map(|n| ("include", n)).chain(
            auto.tool_arguments
                .iter()
                .map(|(n, _)| ("tool_arguments", n)),
        );
        for (key, name) in named {
            if !listed.contains(&name.as_str()) {
                return Err(AutoMixError::NotListed {
                    phase: phase.name.clone(),
                    key,
                    name: name.clone(),
                    listed: quote(&listed.join(", "), QUOTE_CHARS),
                });
            }
        }
        let mut chosen: Vec<(&Tool, Option<Template>)> = Vec::new();
        for tool in tools.iter().filter(|t| {
            (t.safe_to_call() || auto.include.contains(&t.name)) && !auto.exclude.contains(&t.name)
        }) {
            let given = given_for(auto, tool).map_err(|error| AutoMixError::Values {
                phase: phase.name.clone(),
                tool: quote(&tool.name, LABEL_CHARS),
                error,
            })?;
            let first = given
                .as_ref()
                .map(|g| g.render(&CallContext { seq: 1, worker: 0 }));
            let first = first.as_ref().and_then(|g| g.as_object().cloned());
            match autogen::arguments_with(&tool.input_schema, 1, &first.unwrap_or_default()) {
                Ok(_) => chosen.push((tool, given)),
                Err(why) => {
                    let note = format!("tool {} is not called: {why}", quote(&tool.name, 100));
                    if !skipped.contains(&note) {
                        skipped.push(note);
                    }
                }
            }
        }
        if chosen.is_empty() && phase.mix.calls.is_empty() {
            return Err(AutoMixError::NothingToCall {
                phase: phase.name.clone(),
                listed: quote(&listed.join(", "), QUOTE_CHARS),
                skipped: skipped.iter().map(|s| format!("; {s}")).collect(),
            });
        }
        let mut calls = phase.mix.calls.clone();
        let mut weights = phase.mix.weights.clone();
        for (tool, given) in chosen {
            // The label is what is shown: the server's name made safe to
            // show (the call itself uses the name as the server wrote it).
            let shown = quote(&tool.name, LABEL_CHARS);
            let label = match labels.iter().chain(&added).position(|l| *l == shown) {
                Some(i) => i,
                None => {
                    added.push(shown);
                    labels.len() + added.len() - 1
                }
            };
            calls.push(CallTemplate {
                method: "tools/call".into(),
                label,
                params: Some(Template::Schema {
                    tool: tool.name.clone(),
                    schema: tool.input_schema.clone(),
                    given: given.map(Box::new),
                }),
                expect_text: None,
            });
            weights.push(auto.weight);
        }
        let mut phase = phase.clone();
        phase.mix =
            CallMix::new(calls, weights, None).in_turns(phase.turns, phase.load.planned_calls());
        expanded.push(phase);
    }
    Ok(AutoMix {
        phases: expanded,
        added_labels: added,
        skipped,
    })
}

/// The values the user gave for `tool`'s arguments: `arguments` for the
/// properties it declares, then its own `tool_arguments` over them.
fn given_for(auto: &AutoMixEntry, tool: &Tool) -> Result<Option<Template>, TemplateError> {
    let mut given: serde_json::Map<String, serde_json::Value> = auto
        .arguments
        .iter()
        .filter(|(name, _)| autogen::declares(&tool.input_schema, name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    for (_, values) in auto.tool_arguments.iter().filter(|(n, _)| *n == tool.name) {
        given.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if given.is_empty() {
        return Ok(None);
    }
    Template::new(serde_json::Value::Object(given)).map(Some)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn tool(name: &str, read_only: bool) -> Tool {
        tool_with(
            name,
            read_only,
            json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
        )
    }

    fn tool_with(name: &str, read_only: bool, input_schema: Value) -> Tool {
        Tool {
            name: name.into(),
            description: String::new(),
            input_schema,
            read_only,
            reaches_out: false,
            annotations: Value::Null,
        }
    }

    fn scenario(auto: &str) -> crate::scenario::Scenario {
        let text = format!(
            "name = \"a\"\n[[phase]]\nname = \"load\"\nload = {{ kind = \"sequential\", calls = 4 }}\n[[call]]\nmethod = \"ping\"\n[[call]]\nauto = true\n{auto}\n"
        );
        crate::scenario::file::parse(&text, "a.toml").unwrap()
    }

    #[test]
    fn only_read_only_tools_unless_named() {
        let tools = [
            tool("search", true),
            tool("delete", false),
            tool("get", true),
        ];
        let s = scenario("");
        let mix = expand_auto(&s.phases, &s.labels, &tools).unwrap();
        assert_eq!(mix.added_labels, vec!["search", "get"]);
        let methods: Vec<_> = mix.phases[0].mix.calls.iter().map(|c| c.label).collect();
        assert_eq!(methods, vec![0, 1, 2], "ping, search, get; never delete");
        let s = scenario("include = [\"delete\"]\nexclude = [\"get\"]");
        let mix = expand_auto(&s.phases, &s.labels, &tools).unwrap();
        assert_eq!(mix.added_labels, vec!["search", "delete"]);
        let s = scenario("include = [\"drop\"]");
        let err = expand_auto(&s.phases, &s.labels, &tools)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`drop`") && err.contains("search, delete, get"),
            "{err}"
        );
    }

    #[test]
    fn generated_calls_carry_schema_arguments() {
        let s = scenario("");
        let mix = expand_auto(&s.phases, &s.labels, &[tool("search", true)]).unwrap();
        let call = &mix.phases[0].mix.calls[1];
        let ctx = crate::scenario::template::CallContext { seq: 3, worker: 0 };
        let params = call.params.as_ref().unwrap().render(&ctx);
        assert_eq!(params["name"], "search");
        assert_eq!(params["arguments"]["q"], "mcpstorm 3");
    }

    #[test]
    fn open_world_and_destructive_tools_are_never_called_unless_named() {
        // The fetch server's read-only tool fetches public web pages.
        let mut fetch = tool("fetch", true);
        fetch.reaches_out = true;
        let tools = [tool("search", true), fetch];
        let s = scenario("");
        let mix = expand_auto(&s.phases, &s.labels, &tools).unwrap();
        assert_eq!(mix.added_labels, vec!["search"]);
        let s = scenario("include = [\"fetch\"]");
        let mix = expand_auto(&s.phases, &s.labels, &tools).unwrap();
        assert_eq!(mix.added_labels, vec!["search", "fetch"]);
    }

    #[test]
    fn a_tool_whose_schema_cannot_be_met_is_skipped_and_named() {
        let huge = json!({"type": "object", "properties": {
            "text": {"type": "string", "minLength": 2_000_000u64}
        }, "required": ["text"]});
        let tools = [tool("search", true), tool_with("essay", true, huge.clone())];
        let s = scenario("");
        let mix = expand_auto(&s.phases, &s.labels, &tools).unwrap();
        assert_eq!(mix.added_labels, vec!["search"]);
        assert_eq!(mix.skipped.len(), 1);
        assert!(mix.skipped[0].contains("essay") && mix.skipped[0].contains("minLength"));
        // Nothing left to call: the error says why each was left out.
        let s = scenario("");
        let mut only = s.clone();
        only.phases[0].mix.calls.clear();
        let error = expand_auto(
            &only.phases,
            &only.labels,
            &[tool_with("essay", true, huge)],
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(error.contains("minLength 2000000"), "{error}");
    }
}
