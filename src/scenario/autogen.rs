//! Arguments generated from a tool's `inputSchema`, so a scenario can call
//! every tool of a server it has never seen.
//!
//! The values satisfy what the schema states: required properties, types,
//! `enum` and `const`, `minimum`/`maximum` (and their exclusive forms),
//! `multipleOf`, string lengths and formats (`date-time`, `date`, `time`,
//! `email`, `uri`, `uuid`, `ipv4`), array lengths, nested objects, local
//! `$ref`s and the first branch of `anyOf`/`oneOf`/`allOf`. A value the
//! schema offers is used before any made up: one of its `examples` (in turn),
//! else its `default`. Optional properties are left out. They vary with the call's sequence number so
//! that a server's caches do not answer every call, and numbers stay near
//! their minimum (at most 10 above it): a load test should not ask a `sleep`
//! tool for a minute or a `list` tool for a million rows. `pattern` is not
//! followed: a tool that needs one gets a plain string.

use serde_json::{Map, Value, json};

/// How far above its minimum a generated number may go.
const NUMBER_SPREAD: u64 = 10;

/// Deepest nesting followed; past half of it, arrays get only the items
/// they must have, so a recursive schema ends.
const MAX_DEPTH: usize = 12;

/// The most values (objects, arrays, scalars) one call's arguments may hold.
const MAX_VALUES: usize = 10_000;

/// The most characters of string one call's arguments may hold.
const MAX_STRING_CHARS: usize = 1 << 20;

/// A schema whose arguments cannot be made within the budget: the tool is
/// skipped, and this says why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Unmeetable(String);

/// Arguments for one call that satisfy `schema`, or why they cannot be made
/// within the budget (a `minLength` of millions, a schema that nests or
/// multiplies without end).
pub fn arguments(schema: &Value, seq: u64) -> Result<Value, Unmeetable> {
    arguments_with(schema, seq, &Map::new())
}

/// Arguments as `arguments` makes them, with the `given` values (the user's,
/// for properties a schema cannot tell how to fill: a path that exists, an
/// id) in place of generated ones.
pub fn arguments_with(
    schema: &Value,
    seq: u64,
    given: &Map<String, Value>,
) -> Result<Value, Unmeetable> {
    let mut generator = Generator {
        root: schema,
        values_left: MAX_VALUES,
        chars_left: MAX_STRING_CHARS,
        given,
    };
    let mut arguments = match generator.generate(schema, seq, 0)? {
        Value::Object(map) => map,
        // A tool's arguments are always an object.
        _ => Map::new(),
    };
    arguments.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(Value::Object(arguments))
}

/// Whether a schema declares a top-level property `name`.
pub fn declares(schema: &Value, name: &str) -> bool {
    resolve(schema, schema)
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key(name))
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

/// Makes one call's arguments, counting what it spends.
struct Generator<'a> {
    root: &'a Value,
    values_left: usize,
    chars_left: usize,
    /// Top-level properties the user gave: not generated.
    given: &'a Map<String, Value>,
}

impl Generator<'_> {
    fn generate(&mut self, schema: &Value, seq: u64, depth: usize) -> Result<Value, Unmeetable> {
        if depth > MAX_DEPTH {
            return Err(Unmeetable(format!(
                "its schema nests deeper than {MAX_DEPTH} levels"
            )));
        }
        if self.values_left == 0 {
            return Err(Unmeetable(format!(
                "its arguments would hold more than {MAX_VALUES} values"
            )));
        }
        self.values_left -= 1;
        let root = self.root;
        let schema = resolve(schema, root);
        if let Some(value) = schema.get("const") {
            return Ok(value.clone());
        }
        if let Some(choices) = schema.get("enum").and_then(Value::as_array)
            && !choices.is_empty()
        {
            return Ok(choices[(seq % choices.len() as u64) as usize].clone());
        }
        if let Some(offered) = offered(schema, seq) {
            self.spend(offered)?;
            return Ok(offered.clone());
        }
        for combinator in ["anyOf", "oneOf", "allOf"] {
            if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
                let branch = branches
                    .iter()
                    .find(|b| schema_type(resolve(b, root)) != Some("null"))
                    .or(branches.first());
                if let Some(branch) = branch {
                    return self.generate(branch, seq, depth + 1);
                }
            }
        }
        let kind = schema_type(schema).unwrap_or(if schema.get("properties").is_some() {
            "object"
        } else {
            "string"
        });
        Ok(match kind {
            "object" => self.object(schema, seq, depth)?,
            "array" => self.array(schema, seq, depth)?,
            "integer" => integer(schema, seq),
            "number" => number(schema, seq),
            "boolean" => Value::Bool(seq.is_multiple_of(2)),
            "null" => Value::Null,
            _ => self.string(schema, seq)?,
        })
    }

    fn object(&mut self, schema: &Value, seq: u64, depth: usize) -> Result<Value, Unmeetable> {
        let mut map = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object);
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            if depth == 0 && self.given.contains_key(name) {
                continue;
            }
            let property = properties.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
            map.insert(name.to_string(), self.generate(property, seq, depth + 1)?);
        }
        Ok(Value::Object(map))
    }

    fn array(&mut self, schema: &Value, seq: u64, depth: usize) -> Result<Value, Unmeetable> {
        let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let max = schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        // One item where none is required, near the top: the tool sees a
        // list with something in it.
        let wanted = if depth < MAX_DEPTH / 2 {
            min.max(1)
        } else {
            min
        };
        let count = wanted.min(max).min(16);
        let items = schema.get("items").unwrap_or(&Value::Null);
        let mut array = Vec::with_capacity(count as usize);
        for i in 0..count {
            array.push(self.generate(items, seq + i, depth + 1)?);
        }
        Ok(Value::Array(array))
    }

    /// Count a value taken whole from the schema against the budget.
    fn spend(&mut self, value: &Value) -> Result<(), Unmeetable> {
        let mut stack = vec![value];
        while let Some(value) = stack.pop() {
            if self.values_left == 0 {
                return Err(Unmeetable(format!(
                    "its arguments would hold more than {MAX_VALUES} values"
                )));
            }
            self.values_left -= 1;
            match value {
                Value::String(text) => {
                    self.chars_left = self.chars_left.checked_sub(text.len()).ok_or_else(|| {
                        Unmeetable(format!(
                            "an example or default is over the {MAX_STRING_CHARS}-character budget"
                        ))
                    })?
                }
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => stack.extend(map.values()),
                _ => {}
            }
        }
        Ok(())
    }

    fn string(&mut self, schema: &Value, seq: u64) -> Result<Value, Unmeetable> {
        let mut text = match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => "2026-01-01T00:00:00Z".to_string(),
            Some("date") => "2026-01-01".to_string(),
            Some("time") => "12:00:00".to_string(),
            Some("email") => format!("load{seq}@example.com"),
            Some("uri") | Some("url") | Some("iri") => {
                format!("https://example.com/mcpstorm/{seq}")
            }
            Some("uuid") => format!("00000000-0000-4000-8000-{:012x}", seq & 0xffff_ffff_ffff),
            Some("ipv4") => "127.0.0.1".to_string(),
            Some("ipv6") => "::1".to_string(),
            Some("hostname") => "localhost".to_string(),
            _ => format!("mcpstorm {seq}"),
        };
        let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        let max = schema.get("maxLength").and_then(Value::as_u64);
        if min > self.chars_left as u64 {
            return Err(Unmeetable(format!(
                "a string of minLength {min} is over the {MAX_STRING_CHARS}-character budget"
            )));
        }
        let chars = text.chars().count();
        let min = min as usize;
        if chars < min {
            text.extend(std::iter::repeat_n('x', min - chars));
        }
        if let Some(max) = max
            && text.chars().count() > max as usize
        {
            text = text.chars().take(max as usize).collect();
        }
        self.chars_left = self.chars_left.saturating_sub(text.len());
        Ok(Value::String(text))
    }
}

/// The required top-level properties whose values `arguments` makes up: their
/// schema offers none of its own (`const`, `enum`, `examples`, `default`), so
/// a real value (a path that exists, a record's id) is the user's to give.
pub fn made_up(schema: &Value) -> Vec<String> {
    let root = resolve(schema, schema);
    let properties = root.get("properties").and_then(Value::as_object);
    root.get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|name| {
            let property = properties
                .and_then(|p| p.get(*name))
                .map(|p| resolve(p, schema));
            !property.is_some_and(offers_a_value)
        })
        .map(String::from)
        .collect()
}

/// Whether `generate` takes the value from the schema rather than making one.
fn offers_a_value(schema: &Value) -> bool {
    schema.get("const").is_some()
        || schema
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|choices| !choices.is_empty())
        || offered(schema, 1).is_some()
}

/// A value the schema itself offers: its `examples` in turn, else its `default`.
fn offered(schema: &Value, seq: u64) -> Option<&Value> {
    match schema.get("examples").and_then(Value::as_array) {
        Some(examples) if !examples.is_empty() => {
            Some(&examples[(seq.saturating_sub(1) % examples.len() as u64) as usize])
        }
        _ => schema.get("default"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_the_schema_offers_come_first() {
        let schema = json!({
            "type": "object",
            "required": ["key", "n", "path"],
            "properties": {
                "key": {"type": "string", "examples": ["alpha", "beta"]},
                "n": {"type": "integer", "minimum": 1, "default": 3},
                "path": {"type": "string"},
            }
        });
        let keys: Vec<Value> = (1..=3)
            .map(|seq| arguments(&schema, seq).unwrap()["key"].clone())
            .collect();
        assert_eq!(keys, vec![json!("alpha"), json!("beta"), json!("alpha")]);
        assert_eq!(arguments(&schema, 7).unwrap()["n"], 3);
        // Only `path` is made up: the user is asked for it.
        assert_eq!(made_up(&schema), vec!["path"]);
        // The user's values stand in for generated ones, required or not.
        let given = json!({"path": "/tmp/x", "extra": true});
        let args = arguments_with(&schema, 1, given.as_object().unwrap()).unwrap();
        assert_eq!(args["path"], "/tmp/x");
        assert_eq!(args["extra"], true);
        assert_eq!(args["key"], "alpha");
        // An example counts against the budget like a generated value.
        let huge = json!({"type": "object", "required": ["t"], "properties": {
            "t": {"type": "string", "examples": ["x".repeat(MAX_STRING_CHARS + 1)]}}});
        assert!(arguments(&huge, 1).is_err());
        // A property the user gives is not generated, so its schema need not be met.
        let unmeetable = json!({"type": "object", "required": ["t"], "properties": {
            "t": {"type": "string", "minLength": 2_000_000u64}}});
        let given = json!({"t": "short"});
        assert_eq!(
            arguments_with(&unmeetable, 1, given.as_object().unwrap()).unwrap()["t"],
            "short"
        );
    }

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
            let args = arguments(&schema, seq).unwrap();
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
        let args = arguments(&schema, 3).unwrap();
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
            let args = arguments(&schema, seq).unwrap();
            assert!(args["ms"].as_f64().unwrap() <= 10.0, "{args}");
            assert!((100..=110).contains(&args["n"].as_i64().unwrap()), "{args}");
        }
    }

    #[test]
    fn odd_schemas_still_give_an_object() {
        assert_eq!(arguments(&json!({}), 1), Ok(json!({})));
        assert_eq!(arguments(&json!(true), 1), Ok(json!({})));
        let optional = json!({"type": "object", "properties": {"next": {"$ref": "#"}}});
        assert_eq!(arguments(&optional, 1), Ok(json!({})));
        let tree = json!({"type": "object", "properties": {
            "children": {"type": "array", "items": {"$ref": "#"}}
        }, "required": ["children"]});
        assert!(
            arguments(&tree, 1).is_ok(),
            "a recursive tree ends in empty lists"
        );
    }

    #[test]
    fn schemas_that_cannot_be_met_within_the_budget_say_why() {
        // Each of these hung argument generation or grew it to gigabytes.
        let long = json!({"type": "object", "properties": {
            "text": {"type": "string", "minLength": 2_000_000u64}
        }, "required": ["text"]});
        let error = arguments(&long, 1).unwrap_err().to_string();
        assert!(error.contains("minLength 2000000"), "{error}");
        let wide = json!({"type": "object", "properties": {
            "grid": {"$ref": "#/$defs/row"}
        }, "required": ["grid"], "$defs": {"row": {
            "type": "array", "minItems": 16, "items": {"$ref": "#/$defs/row"}
        }}});
        let error = arguments(&wide, 1).unwrap_err().to_string();
        assert!(
            error.contains("10000 values") || error.contains("nests"),
            "{error}"
        );
        let endless =
            json!({"type": "object", "properties": {"next": {"$ref": "#"}}, "required": ["next"]});
        let error = arguments(&endless, 1).unwrap_err().to_string();
        assert!(error.contains("deeper than 12"), "{error}");
        // Within the budget, a long string is made at once, not char by char.
        let fits = json!({"type": "object", "properties": {
            "text": {"type": "string", "minLength": 500_000}
        }, "required": ["text"]});
        let text = arguments(&fits, 1).unwrap()["text"].as_str().unwrap().len();
        assert_eq!(text, 500_000);
    }
}
