//! Arguments generated from a tool's `inputSchema`, so a scenario can call
//! every tool of a server it has never seen.
//!
//! The values satisfy what the schema states: required properties, types,
//! `enum` and `const`, `minimum`/`maximum` (and their exclusive forms),
//! `multipleOf`, string lengths and formats (`date-time`, `date`, `time`,
//! `email`, `uri`, `uuid`, `ipv4`), array lengths, nested objects, local
//! `$ref`s and the first branch of `anyOf`/`oneOf`/`allOf`. Optional
//! properties are left out. They vary with the call's sequence number so
//! that a server's caches do not answer every call, and numbers stay near
//! their minimum (at most 10 above it): a load test should not ask a `sleep`
//! tool for a minute or a `list` tool for a million rows. `pattern` is not
//! followed: a tool that needs one gets a plain string.

use serde_json::{Map, Value, json};

/// How far above its minimum a generated number may go.
const NUMBER_SPREAD: u64 = 10;

/// Deepest nesting followed (a recursive schema stops here with `null`).
const MAX_DEPTH: usize = 12;

/// Arguments for one call that satisfy `schema`.
pub fn arguments(schema: &Value, seq: u64) -> Value {
    match generate(schema, schema, seq, 0) {
        Value::Object(map) => Value::Object(map),
        // A tool's arguments are always an object.
        _ => Value::Object(Map::new()),
    }
}

/// Arguments that break `schema`, for the robustness probe: without the
/// properties it requires, or else with its first property of the wrong
/// type; a schema that constrains nothing gets a string where an object
/// belongs.
pub fn invalid_arguments(schema: &Value) -> Value {
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty());
    if required {
        return Value::Object(Map::new());
    }
    let first = schema
        .get("properties")
        .and_then(Value::as_object)
        .and_then(|properties| properties.iter().next());
    if let Some((name, property)) = first {
        let property = resolve(property, schema);
        let wrong = match schema_type(property) {
            Some("string") => Value::from(42),
            Some(_) => Value::from("not the declared type"),
            None => Value::Null,
        };
        if !wrong.is_null() {
            let mut arguments = Map::new();
            arguments.insert(name.clone(), wrong);
            return Value::Object(arguments);
        }
    }
    Value::from("not an object")
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..MAX_DEPTH {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            return current;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            return current;
        };
        match root.pointer(pointer) {
            Some(target) => current = target,
            None => return current,
        }
    }
    current
}

fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(t) => Some(t),
        // ["string", "null"]: the first type that is not null.
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

fn generate(schema: &Value, root: &Value, seq: u64, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    let schema = resolve(schema, root);
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array)
        && !choices.is_empty()
    {
        return choices[(seq % choices.len() as u64) as usize].clone();
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
            let branch = branches
                .iter()
                .find(|b| schema_type(resolve(b, root)) != Some("null"))
                .or(branches.first());
            if let Some(branch) = branch {
                return generate(branch, root, seq, depth + 1);
            }
        }
    }
    let kind = schema_type(schema).unwrap_or(if schema.get("properties").is_some() {
        "object"
    } else {
        "string"
    });
    match kind {
        "object" => object(schema, root, seq, depth),
        "array" => array(schema, root, seq, depth),
        "integer" => integer(schema, seq),
        "number" => number(schema, seq),
        "boolean" => Value::Bool(seq.is_multiple_of(2)),
        "null" => Value::Null,
        _ => string(schema, seq),
    }
}

fn object(schema: &Value, root: &Value, seq: u64, depth: usize) -> Value {
    let mut map = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let property = properties.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
        map.insert(name.to_string(), generate(property, root, seq, depth + 1));
    }
    Value::Object(map)
}

fn array(schema: &Value, root: &Value, seq: u64, depth: usize) -> Value {
    let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1);
    let max = schema
        .get("maxItems")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let count = min.max(1).min(max).min(16);
    let items = schema.get("items").unwrap_or(&Value::Null);
    Value::Array(
        (0..count)
            .map(|i| generate(items, root, seq + i, depth + 1))
            .collect(),
    )
}

/// The inclusive bounds a numeric schema allows, `None` where it sets none.
fn bounds(schema: &Value, step: f64) -> (Option<f64>, Option<f64>) {
    let get = |key: &str| schema.get(key).and_then(Value::as_f64);
    let exclusive_flag = |key: &str| schema.get(key) == Some(&Value::Bool(true));
    let low = match (get("minimum"), get("exclusiveMinimum")) {
        (_, Some(e)) => Some(e + step),
        (Some(m), None) if exclusive_flag("exclusiveMinimum") => Some(m + step),
        (m, None) => m,
    };
    let high = match (get("maximum"), get("exclusiveMaximum")) {
        (_, Some(e)) => Some(e - step),
        (Some(m), None) if exclusive_flag("exclusiveMaximum") => Some(m - step),
        (m, None) => m,
    };
    (low, high)
}

fn integer(schema: &Value, seq: u64) -> Value {
    let (low, high) = bounds(schema, 1.0);
    let low = low.map_or(0, |l| l.ceil() as i64);
    let high = high
        .map_or(low.saturating_add(99), |h| h.floor() as i64)
        .max(low);
    let span = ((high - low) as u64).min(NUMBER_SPREAD) + 1;
    let mut value = low + (seq % span) as i64;
    if let Some(step) = schema
        .get("multipleOf")
        .and_then(Value::as_i64)
        .filter(|s| *s > 0)
    {
        value = (value / step) * step;
        if value < low {
            value += step;
        }
    }
    json!(value)
}

fn number(schema: &Value, seq: u64) -> Value {
    let (low, high) = bounds(schema, 1e-6);
    let low = low.unwrap_or(0.0);
    let high = high.unwrap_or(low + 100.0).max(low);
    let fraction = (seq % 100) as f64 / 100.0;
    let mut value = low + (high - low).min(NUMBER_SPREAD as f64) * fraction;
    if let Some(step) = schema
        .get("multipleOf")
        .and_then(Value::as_f64)
        .filter(|s| *s > 0.0)
    {
        value = (value / step).ceil() * step;
        if value > high {
            value -= step;
        }
    }
    json!(value)
}

fn string(schema: &Value, seq: u64) -> Value {
    let mut text = match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => "2026-01-01T00:00:00Z".to_string(),
        Some("date") => "2026-01-01".to_string(),
        Some("time") => "12:00:00".to_string(),
        Some("email") => format!("load{seq}@example.com"),
        Some("uri") | Some("url") | Some("iri") => format!("https://example.com/mcpstorm/{seq}"),
        Some("uuid") => format!("00000000-0000-4000-8000-{:012x}", seq & 0xffff_ffff_ffff),
        Some("ipv4") => "127.0.0.1".to_string(),
        Some("ipv6") => "::1".to_string(),
        Some("hostname") => "localhost".to_string(),
        _ => format!("mcpstorm {seq}"),
    };
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    while text.chars().count() < min {
        text.push('x');
    }
    if let Some(max) = max {
        text = text.chars().take(max).collect();
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_properties_get_values_of_their_type() {
        let schema = json!({
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "count": {"type": "integer", "minimum": 5, "maximum": 7},
                "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                "flag": {"type": "boolean"},
                "mode": {"enum": ["fast", "slow"]},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "when": {"type": "string", "format": "date-time"},
                "optional": {"type": "string"}
            },
            "required": ["message", "count", "ratio", "flag", "mode", "tags", "when"]
        });
        for seq in 0..20 {
            let args = arguments(&schema, seq);
            assert!(args["message"].is_string());
            let count = args["count"].as_i64().unwrap();
            assert!((5..=7).contains(&count), "{count}");
            let ratio = args["ratio"].as_f64().unwrap();
            assert!(ratio > 0.0 && ratio <= 1.0, "{ratio}");
            assert!(args["flag"].is_boolean());
            assert!(["fast", "slow"].contains(&args["mode"].as_str().unwrap()));
            assert_eq!(args["tags"].as_array().unwrap().len(), 2);
            assert_eq!(args["when"], "2026-01-01T00:00:00Z");
            assert!(
                args.get("optional").is_none(),
                "optional properties are left out"
            );
        }
    }

    #[test]
    fn references_unions_and_lengths_are_followed() {
        let schema = json!({
            "type": "object",
            "$defs": {"point": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
            "properties": {
                "at": {"$ref": "#/$defs/point"},
                "name": {"anyOf": [{"type": "null"}, {"type": "string", "minLength": 20}]},
                "code": {"type": "string", "maxLength": 3},
                "even": {"type": "integer", "minimum": 1, "multipleOf": 2},
                "kind": {"const": "exact"},
                "maybe": {"type": ["null", "integer"]}
            },
            "required": ["at", "name", "code", "even", "kind", "maybe"]
        });
        let args = arguments(&schema, 3);
        assert!(args["at"]["x"].is_i64(), "{args}");
        assert!(args["name"].as_str().unwrap().len() >= 20);
        assert!(args["code"].as_str().unwrap().len() <= 3);
        let even = args["even"].as_i64().unwrap();
        assert!(even >= 1 && even % 2 == 0, "{even}");
        assert_eq!(args["kind"], "exact");
        assert!(args["maybe"].is_i64());
    }

    #[test]
    fn numbers_stay_near_their_minimum() {
        let schema = json!({"type": "object", "properties": {
            "ms": {"type": "number", "minimum": 0, "maximum": 60000},
            "n": {"type": "integer", "minimum": 100}
        }, "required": ["ms", "n"]});
        for seq in 0..200 {
            let args = arguments(&schema, seq);
            assert!(args["ms"].as_f64().unwrap() <= 10.0, "{args}");
            assert!((100..=110).contains(&args["n"].as_i64().unwrap()), "{args}");
        }
    }

    #[test]
    fn odd_schemas_still_give_an_object() {
        assert_eq!(arguments(&json!({}), 1), json!({}));
        assert_eq!(arguments(&json!(true), 1), json!({}));
        let recursive =
            json!({"type": "object", "properties": {"next": {"$ref": "#"}}, "required": ["next"]});
        assert!(arguments(&recursive, 1).is_object());
    }
}

/// Expand the automatic mixes of `phases` once the server's tools are known.
/// Returns the phases with every `auto` entry replaced by one call per chosen
/// tool, and the labels that were not known before (appended after `labels`).
pub fn expand_auto(
    phases: &[super::Phase],
    labels: &[String],
    tools: &[crate::protocol::catalog::Tool],
) -> Result<(Vec<super::Phase>, Vec<String>), String> {
    let mut added: Vec<String> = Vec::new();
    let mut expanded = Vec::with_capacity(phases.len());
    for phase in phases {
        let Some(auto) = &phase.mix.auto else {
            expanded.push(phase.clone());
            continue;
        };
        let listed: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        if let Some(missing) = auto.include.iter().find(|n| !listed.contains(&n.as_str())) {
            return Err(format!(
                "phase {}: include names `{missing}`, which the server does not list (it lists: {})",
                phase.name,
                listed.join(", ")
            ));
        }
        let chosen: Vec<_> = tools
            .iter()
            .filter(|t| {
                (t.read_only || auto.include.contains(&t.name)) && !auto.exclude.contains(&t.name)
            })
            .collect();
        if chosen.is_empty() && phase.mix.calls.is_empty() {
            return Err(format!(
                "phase {}: the server lists no read-only tool to call (tools: {}); \
                 name the ones that are safe to call with include = [...]",
                phase.name,
                listed.join(", ")
            ));
        }
        let mut calls = phase.mix.calls.clone();
        let mut weights = phase.mix.weights.clone();
        for tool in chosen {
            let label = match labels.iter().chain(&added).position(|l| *l == tool.name) {
                Some(i) => i,
                None => {
                    added.push(tool.name.clone());
                    labels.len() + added.len() - 1
                }
            };
            calls.push(super::CallTemplate {
                method: "tools/call".into(),
                label,
                params: Some(super::template::Template::Schema {
                    tool: tool.name.clone(),
                    schema: tool.input_schema.clone(),
                }),
                expect_text: None,
            });
            weights.push(auto.weight);
        }
        let mut phase = phase.clone();
        phase.mix = super::CallMix::new(calls, weights, None);
        expanded.push(phase);
    }
    Ok((expanded, added))
}

#[cfg(test)]
mod expand_tests {
    use super::*;
    use crate::protocol::catalog::Tool;

    fn tool(name: &str, read_only: bool) -> Tool {
        Tool {
            name: name.into(),
            description: String::new(),
            input_schema: json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
            read_only,
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
        let (phases, added) = expand_auto(&s.phases, &s.labels, &tools).unwrap();
        assert_eq!(added, vec!["search", "get"]);
        let methods: Vec<_> = phases[0].mix.calls.iter().map(|c| c.label).collect();
        assert_eq!(methods, vec![0, 1, 2], "ping, search, get; never delete");
        let s = scenario("include = [\"delete\"]\nexclude = [\"get\"]");
        let (_, added) = expand_auto(&s.phases, &s.labels, &tools).unwrap();
        assert_eq!(added, vec!["search", "delete"]);
        let s = scenario("include = [\"drop\"]");
        let err = expand_auto(&s.phases, &s.labels, &tools).unwrap_err();
        assert!(
            err.contains("`drop`") && err.contains("search, delete, get"),
            "{err}"
        );
    }

    #[test]
    fn generated_calls_carry_schema_arguments() {
        let s = scenario("");
        let (phases, _) = expand_auto(&s.phases, &s.labels, &[tool("search", true)]).unwrap();
        let call = &phases[0].mix.calls[1];
        let ctx = crate::scenario::template::CallContext { seq: 3, worker: 0 };
        let params = call.params.as_ref().unwrap().render(&ctx);
        assert_eq!(params["name"], "search");
        assert_eq!(params["arguments"]["q"], "mcpstorm 3");
    }
}
