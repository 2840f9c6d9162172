//! Parsing a scenario's call mix: each `[[call]]` entry, its weight, and the
//! automatic mix (`auto = true`).

use serde::Deserialize;
use toml::Spanned;

use super::file::{ScenarioError, Source};
use super::template::Template;
use super::{AutoMix, CallMix, CallTemplate, method_params};

const METHODS: [&str; 7] = [
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "prompts/list",
    "prompts/get",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCall {
    pub(super) method: Option<Spanned<String>>,
    pub(super) tool: Option<Spanned<String>>,
    pub(super) uri: Option<Spanned<String>>,
    pub(super) prompt: Option<Spanned<String>>,
    pub(super) arguments: Option<Spanned<toml::Value>>,
    pub(super) weight: Option<Spanned<i64>>,
    pub(super) expect_text: Option<Spanned<String>>,
    pub(super) auto: Option<Spanned<bool>>,
    pub(super) include: Option<Spanned<Vec<String>>>,
    pub(super) exclude: Option<Spanned<Vec<String>>>,
    pub(super) tool_arguments: Option<Spanned<toml::Table>>,
}

fn call(
    src: &Source,
    raw: &Spanned<RawCall>,
    key: &str,
    labels: &mut Vec<String>,
) -> Result<(CallTemplate, u64), ScenarioError> {
    let span = raw.span().start;
    let raw = raw.get_ref();
    let method = match (&raw.method, &raw.tool) {
        (Some(m), _) => m.get_ref().clone(),
        (None, Some(_)) => "tools/call".to_string(),
        (None, None) => {
            return Err(src.error(
                span,
                &format!("{key}.method"),
                "each call needs `method` (or `tool` for tools/call)",
            ));
        }
    };
    if !METHODS.contains(&method.as_str()) {
        let at = raw.method.as_ref().map_or(span, |m| m.span().start);
        return Err(src.error(
            at,
            &format!("{key}.method"),
            format!(
                "unknown method \"{method}\" (expected one of {})",
                METHODS.join(", ")
            ),
        ));
    }
    let needs =
        |field: &str, value: &Option<Spanned<String>>| -> Result<Option<String>, ScenarioError> {
            match value {
                Some(v) => Ok(Some(v.get_ref().clone())),
                None => Err(src.error(
                    span,
                    &format!("{key}.{field}"),
                    format!("method {method} needs `{field}`"),
                )),
            }
        };
    let tool = if method == "tools/call" {
        needs("tool", &raw.tool)?
    } else {
        None
    };
    let uri = if method == "resources/read" {
        needs("uri", &raw.uri)?
    } else {
        None
    };
    let prompt = if method == "prompts/get" {
        needs("prompt", &raw.prompt)?
    } else {
        None
    };
    for (field, value, applies) in [
        ("tool", &raw.tool, tool.is_some()),
        ("uri", &raw.uri, uri.is_some()),
        ("prompt", &raw.prompt, prompt.is_some()),
    ] {
        if let (Some(v), false) = (value, applies) {
            return Err(src.at(
                v,
                &format!("{key}.{field}"),
                format!("`{field}` does not apply to method {method}"),
            ));
        }
    }
    let arguments = match &raw.arguments {
        Some(args) if tool.is_none() && prompt.is_none() => {
            return Err(src.at(
                args,
                &format!("{key}.arguments"),
                format!("`arguments` does not apply to method {method}"),
            ));
        }
        Some(args) if !args.get_ref().is_table() => {
            return Err(src.at(
                args,
                &format!("{key}.arguments"),
                "`arguments` must be a table, e.g. { message = \"hi\" }",
            ));
        }
        Some(args) => Some(serde_json::to_value(args.get_ref()).map_err(|e| {
            src.at(
                args,
                &format!("{key}.arguments"),
                format!("cannot be sent as JSON: {e}"),
            )
        })?),
        None => None,
    };
    let params = method_params(
        &method,
        tool.as_deref(),
        uri.as_deref(),
        prompt.as_deref(),
        arguments,
    )
    .map(Template::new)
    .transpose()
    .map_err(|e| src.error(span, &format!("{key}.arguments"), e.to_string()))?;
    let expect_text = match &raw.expect_text {
        Some(text) if tool.is_none() => {
            return Err(src.at(
                text,
                &format!("{key}.expect_text"),
                "`expect_text` applies to tools/call only",
            ));
        }
        Some(text) => Some(
            Template::new(serde_json::Value::String(text.get_ref().clone()))
                .map_err(|e| src.at(text, &format!("{key}.expect_text"), e.to_string()))?,
        ),
        None => None,
    };
    let weight = weight(src, raw, key)?;
    let label = tool.clone().unwrap_or_else(|| method.clone());
    let label = match labels.iter().position(|l| *l == label) {
        Some(i) => i,
        None => {
            labels.push(label);
            labels.len() - 1
        }
    };
    Ok((
        CallTemplate {
            method,
            label,
            params,
            expect_text,
        },
        weight,
    ))
}

/// The largest weight: the mix interleaves calls by weight, and a weight of
/// 4294967295 made it allocate 34 GB.
const MAX_WEIGHT: u64 = 10_000;

fn weight(src: &Source, raw: &RawCall, key: &str) -> Result<u64, ScenarioError> {
    match &raw.weight {
        None => Ok(1),
        Some(w) => src.whole_in(w, &format!("{key}.weight"), "weight", 0..=MAX_WEIGHT),
    }
}

/// An `auto = true` entry: only `weight`, `include` and `exclude` go with it.
fn auto_mix(
    src: &Source,
    raw: &Spanned<RawCall>,
    key: &str,
) -> Result<Option<AutoMix>, ScenarioError> {
    let span = raw.span().start;
    let raw = raw.get_ref();
    let auto = raw.auto.as_ref().is_some_and(|a| *a.get_ref());
    if !auto {
        if let Some(list) = raw.include.as_ref().or(raw.exclude.as_ref()) {
            return Err(src.at(list, key, "`include` and `exclude` go with `auto = true`"));
        }
        if let Some(table) = &raw.tool_arguments {
            return Err(src.at(
                table,
                &format!("{key}.tool_arguments"),
                "`tool_arguments` goes with `auto = true` (a single tool takes `arguments`)",
            ));
        }
        return Ok(None);
    }
    let fixed = [
        ("method", raw.method.is_some()),
        ("tool", raw.tool.is_some()),
        ("uri", raw.uri.is_some()),
        ("prompt", raw.prompt.is_some()),
        ("expect_text", raw.expect_text.is_some()),
    ];
    if let Some((field, _)) = fixed.iter().find(|(_, present)| *present) {
        return Err(src.error(
            span,
            &format!("{key}.{field}"),
            format!("`auto = true` picks the tools itself: remove `{field}`"),
        ));
    }
    let arguments = match &raw.arguments {
        Some(table) => given_values(src, table, table.get_ref(), &format!("{key}.arguments"))?,
        None => Default::default(),
    };
    let mut tool_arguments = Vec::new();
    if let Some(tables) = &raw.tool_arguments {
        for (tool, table) in tables.get_ref() {
            let at = format!("{key}.tool_arguments.{tool}");
            tool_arguments.push((tool.clone(), given_values(src, tables, table, &at)?));
        }
    }
    let list = |l: &Option<Spanned<Vec<String>>>| {
        l.as_ref().map(|l| l.get_ref().clone()).unwrap_or_default()
    };
    Ok(Some(AutoMix {
        weight: weight(src, raw, key)?,
        include: list(&raw.include),
        exclude: list(&raw.exclude),
        arguments,
        tool_arguments,
    }))
}

/// Values given for arguments in an automatic mix (`arguments`, or one
/// tool's table in `tool_arguments`); errors point at `spanned`.
fn given_values<T>(
    src: &Source,
    spanned: &Spanned<T>,
    table: &toml::Value,
    key: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, ScenarioError> {
    let values = match table {
        toml::Value::Table(table) => serde_json::to_value(table)
            .map_err(|e| src.at(spanned, key, format!("cannot be sent as JSON: {e}")))?,
        _ => {
            return Err(src.at(
                spanned,
                key,
                "must be a table of argument values, e.g. { path = \"/tmp/x\" }",
            ));
        }
    };
    Template::new(values.clone()).map_err(|e| src.at(spanned, key, e.to_string()))?;
    match values {
        serde_json::Value::Object(values) => Ok(values),
        _ => Ok(Default::default()),
    }
}

pub(super) fn mix(
    src: &Source,
    raw: &[Spanned<RawCall>],
    key: &str,
    at: usize,
    labels: &mut Vec<String>,
) -> Result<CallMix, ScenarioError> {
    let mut calls = Vec::new();
    let mut weights = Vec::new();
    let mut auto = None;
    for (i, raw_call) in raw.iter().enumerate() {
        let key = format!("{key}[{i}]");
        if let Some(found) = auto_mix(src, raw_call, &key)? {
            if auto.is_some() {
                return Err(src.at(raw_call, &key, "a mix takes one `auto = true` entry"));
            }
            auto = Some(found);
            continue;
        }
        let (template, weight) = call(src, raw_call, &key, labels)?;
        calls.push(template);
        weights.push(weight);
    }
    let auto_weight = auto.as_ref().map_or(0, |a| a.weight);
    if weights.iter().all(|&w| w == 0) && auto_weight == 0 {
        return Err(src.error(at, key, "needs at least one [[call]] with a weight above 0"));
    }
    Ok(CallMix::new(calls, weights, auto))
}
