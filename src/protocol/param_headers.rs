//! `Mcp-Param-{Name}` headers (2026-07-28, Streamable HTTP).
//!
//! A tool's `inputSchema` may mark a property with `"x-mcp-header": "Region"`;
//! a client calling that tool over HTTP must then send the argument's value
//! as `Mcp-Param-Region` too, so that a load balancer or gateway can route on
//! it without reading the body. The server checks the header against the body
//! and refuses a missing or different one (400, -32020). The rules, from the
//! specification's transport page:
//! - the annotation is reachable from the root through `properties` keys only
//!   (at any depth); one under `items`, `anyOf`, `$ref` and the like, or on the
//!   root itself, makes the tool's declaration invalid;
//! - only `string`, `integer` and `boolean` properties may carry one;
//! - names are HTTP tokens, unique ignoring case;
//! - values: a string as it is (or `=?base64?…?=` when not plain ASCII), an
//!   integer in decimal, a boolean as `true`/`false`; a null or absent
//!   argument sends no header.
//!
//! Both sides use this module: the client to send the headers, the built-in
//! target to check them.

use std::collections::HashMap;

use http::{HeaderName, HeaderValue};
use serde_json::Value;

use super::http_headers::header_safe;

/// The prefix of every parameter header.
pub const PREFIX: &str = "mcp-param-";
/// The schema keyword that declares one.
pub const ANNOTATION: &str = "x-mcp-header";

/// Largest integer a header may carry: JavaScript's safe range.
const SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Why a tool's `x-mcp-header` declarations break the rules; `at` is the
/// property's path (or "the schema's root").
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BadDeclaration {
    #[error("{ANNOTATION} at {at} is not reachable through properties alone")]
    Unreachable { at: String },
    #[error("{ANNOTATION} at {at} is not a string")]
    NotAString { at: String },
    #[error("{ANNOTATION} {name:?} at {at} is not an HTTP token")]
    NotAToken { name: String, at: String },
    #[error(
        "{ANNOTATION} {name:?} at {at} is on a property that is not a string, integer or boolean"
    )]
    NotPrimitive { name: String, at: String },
    #[error("{ANNOTATION} {name:?} at {at} makes no valid header name")]
    NoHeaderName { name: String, at: String },
    #[error("{header} is declared twice (names ignore case)")]
    Twice { header: HeaderName },
}

/// One declared header: its full name and the argument it mirrors.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub header: HeaderName,
    /// Property names from the arguments object down to the value.
    pub path: Vec<String>,
}

/// The declared headers of every tool that has some.
#[derive(Debug, Default, Clone)]
pub struct ParamHeaders {
    by_tool: HashMap<String, Vec<Binding>>,
}

impl ParamHeaders {
    /// Read the declarations of `(tool name, inputSchema)` pairs. A tool whose
    /// declarations break the rules is left out, with the reason returned.
    pub fn from_tools<'a>(
        tools: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> (ParamHeaders, Vec<String>) {
        let mut headers = ParamHeaders::default();
        let mut rejected = Vec::new();
        for (name, schema) in tools {
            match scan(schema) {
                Ok(bindings) if bindings.is_empty() => {}
                Ok(bindings) => {
                    headers.by_tool.insert(name.to_string(), bindings);
                }
                Err(why) => rejected.push(format!(
                    "tool {name}: its {ANNOTATION} declarations are invalid ({why}); \
                     its calls carry no Mcp-Param headers"
                )),
            }
        }
        (headers, rejected)
    }

    /// The bindings declared by `tool`.
    pub fn bindings(&self, tool: &str) -> &[Binding] {
        self.by_tool.get(tool).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The headers a call of `tool` with `arguments` carries.
    #[cfg(test)]
    pub fn headers(&self, tool: &str, arguments: Option<&Value>) -> Vec<(HeaderName, HeaderValue)> {
        headers(self.bindings(tool), arguments)
    }
}

/// The headers a call with `arguments` carries for a tool's `bindings`.
#[cfg(test)]
pub fn headers(bindings: &[Binding], arguments: Option<&Value>) -> Vec<(HeaderName, HeaderValue)> {
    bindings
        .iter()
        .filter_map(|binding| binding.header_for(binding.value_in(arguments)?))
        .collect()
}

impl Binding {
    /// The header that mirrors `value`, this binding's argument: none for
    /// null or what has no scalar rendering.
    pub fn header_for(&self, value: &Value) -> Option<(HeaderName, HeaderValue)> {
        let text = value_text(value)?;
        Some((self.header.clone(), header_safe(&text)))
    }

    /// The argument this header mirrors, if the call has one.
    pub fn value_in<'a>(&self, arguments: Option<&'a Value>) -> Option<&'a Value> {
        self.path
            .iter()
            .try_fold(arguments?, |value, key| value.get(key))
            .filter(|value| !value.is_null())
    }
}

/// The header text of an argument: `None` for what has no scalar rendering
/// (an object, an array, a fraction, an integer beyond the safe range).
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => {
            // 42.0 is the integer 42: the specification compares numerically.
            let integer = number.as_i64().or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() <= SAFE_INTEGER as f64)
                    .map(|f| f as i64)
            })?;
            (integer.abs() <= SAFE_INTEGER).then(|| integer.to_string())
        }
        _ => None,
    }
}

/// Keywords whose values are data, not subschemas: an `x-mcp-header` key
/// inside them declares nothing.
const DATA_KEYWORDS: [&str; 4] = ["const", "enum", "default", "examples"];

/// The declarations of one `inputSchema`, checked against the rules.
pub fn scan(schema: &Value) -> Result<Vec<Binding>, BadDeclaration> {
    let mut bindings = Vec::new();
    walk(schema, &mut Vec::new(), true, &mut bindings)?;
    let mut seen = std::collections::HashSet::new();
    for binding in &bindings {
        if !seen.insert(binding.header.clone()) {
            return Err(BadDeclaration::Twice {
                header: binding.header.clone(),
            });
        }
    }
    Ok(bindings)
}

/// Visit a subschema at `path`; `reachable` when it is the root or is reached
/// from it through `properties` entries alone.
fn walk(
    schema: &Value,
    path: &mut Vec<String>,
    reachable: bool,
    bindings: &mut Vec<Binding>,
) -> Result<(), BadDeclaration> {
    match schema {
        Value::Array(items) => {
            for item in items {
                walk(item, path, false, bindings)?;
            }
            Ok(())
        }
        Value::Object(object) => {
            if let Some(declared) = object.get(ANNOTATION) {
                bindings.push(declaration(declared, object, path, reachable)?);
            }
            for (key, value) in object {
                if key == ANNOTATION || DATA_KEYWORDS.contains(&key.as_str()) {
                    continue;
                }
                if key == "properties"
                    && let Value::Object(properties) = value
                {
                    for (property, subschema) in properties {
                        path.push(property.clone());
                        let result = walk(subschema, path, reachable, bindings);
                        path.pop();
                        result?;
                    }
                } else {
                    walk(value, path, false, bindings)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn declaration(
    declared: &Value,
    schema: &serde_json::Map<String, Value>,
    path: &[String],
    reachable: bool,
) -> Result<Binding, BadDeclaration> {
    let at = if path.is_empty() {
        "the schema's root".to_string()
    } else {
        path.join(".")
    };
    if !reachable || path.is_empty() {
        return Err(BadDeclaration::Unreachable { at });
    }
    let Some(name) = declared.as_str() else {
        return Err(BadDeclaration::NotAString { at });
    };
    let is_token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !is_token {
        return Err(BadDeclaration::NotAToken {
            name: name.to_string(),
            at,
        });
    }
    let primitive = |t: &str| matches!(t, "string" | "integer" | "boolean");
    let typed = match schema.get("type") {
        Some(Value::String(t)) => primitive(t),
        // ["string", "null"]: a nullable primitive.
        Some(Value::Array(types)) => {
            let named: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            named.iter().filter(|t| **t != "null").count() == 1
                && named.iter().all(|t| *t == "null" || primitive(t))
        }
        _ => false,
    };
    if !typed {
        return Err(BadDeclaration::NotPrimitive {
            name: name.to_string(),
            at,
        });
    }
    let Ok(header) = HeaderName::from_bytes(format!("{PREFIX}{name}").as_bytes()) else {
        return Err(BadDeclaration::NoHeaderName {
            name: name.to_string(),
            at,
        });
    };
    Ok(Binding {
        header,
        path: path.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(bindings: &[Binding]) -> Vec<(String, String)> {
        bindings
            .iter()
            .map(|b| (b.header.to_string(), b.path.join(".")))
            .collect()
    }

    #[test]
    fn declarations_are_found_at_any_depth_of_properties() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "query": {"type": "string"},
            "target": {"type": "object", "properties": {
                "shard": {"type": "integer", "x-mcp-header": "Shard"}}},
            "dry_run": {"type": ["boolean", "null"], "x-mcp-header": "Dry-Run"},
            "note": {"type": "string", "default": {"x-mcp-header": "Ignored"}},
        }});
        assert_eq!(
            names(&scan(&schema).unwrap()),
            // (serde_json keeps object keys sorted)
            vec![
                ("mcp-param-dry-run".into(), "dry_run".into()),
                ("mcp-param-region".into(), "region".into()),
                ("mcp-param-shard".into(), "target.shard".into()),
            ]
        );
    }

    #[test]
    fn declarations_that_break_the_rules_are_refused() {
        let refused = |schema: Value, why: &str| {
            let error = scan(&schema).unwrap_err().to_string();
            assert!(error.contains(why), "{error}");
        };
        let property = |p: Value| json!({"type": "object", "properties": {"p": p}});
        refused(
            property(json!({"type": "number", "x-mcp-header": "N"})),
            "not a string, integer or boolean",
        );
        refused(
            property(json!({"type": "object", "x-mcp-header": "O"})),
            "not a string",
        );
        refused(
            property(json!({"type": "string", "x-mcp-header": "Has Space"})),
            "not an HTTP token",
        );
        refused(
            property(json!({"type": "string", "x-mcp-header": ""})),
            "not an HTTP token",
        );
        refused(
            json!({"type": "object", "properties": {
                "a": {"type": "string", "x-mcp-header": "Same"},
                "b": {"type": "string", "x-mcp-header": "same"}}}),
            "declared twice",
        );
        refused(
            property(json!({"type": "array", "items": {"type": "string", "x-mcp-header": "I"}})),
            "not reachable",
        );
        refused(
            json!({"anyOf": [{"type": "object", "properties": {
                "a": {"type": "string", "x-mcp-header": "A"}}}]}),
            "not reachable",
        );
        refused(json!({"type": "string", "x-mcp-header": "Root"}), "root");
    }

    #[test]
    fn values_render_as_the_specification_says() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "shard": {"type": "integer", "x-mcp-header": "Shard"},
            "flag": {"type": "boolean", "x-mcp-header": "Flag"},
        }});
        let (headers, rejected) = ParamHeaders::from_tools([("t", &schema)]);
        assert!(rejected.is_empty());
        let sent = |arguments: Value| -> Vec<(String, String)> {
            headers
                .headers("t", Some(&arguments))
                .into_iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
                .collect()
        };
        assert_eq!(
            sent(json!({"region": "us-west1", "shard": 42.0, "flag": false})),
            vec![
                ("mcp-param-flag".into(), "false".into()),
                ("mcp-param-region".into(), "us-west1".into()),
                ("mcp-param-shard".into(), "42".into()),
            ]
        );
        // Not plain ASCII: the base64 form. Null or absent: no header.
        assert_eq!(
            sent(json!({"region": "Zürich", "shard": null})),
            vec![("mcp-param-region".into(), "=?base64?WsO8cmljaA==?=".into())]
        );
        // Beyond JavaScript's safe integers, or a fraction: no rendering.
        assert!(sent(json!({"shard": 9007199254740993_i64})).is_empty());
        assert!(sent(json!({"shard": 1.5})).is_empty());
        assert!(
            headers
                .headers("other", Some(&json!({"region": "x"})))
                .is_empty()
        );
    }

    #[test]
    fn a_tool_with_invalid_declarations_is_named() {
        let bad =
            json!({"type": "object", "properties": {"n": {"type": "number", "x-mcp-header": "N"}}});
        let (headers, rejected) = ParamHeaders::from_tools([("calc", &bad)]);
        assert!(headers.bindings("calc").is_empty());
        assert!(rejected[0].starts_with("tool calc:"), "{rejected:?}");
    }
}
