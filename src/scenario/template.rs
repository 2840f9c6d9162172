//! Argument templates and the weighted call mix.
//!
//! A template is a JSON value whose strings may hold `{seq}` (the call's
//! sequence number in the scenario, from 1) and `{worker}` (the worker's number,
//! from 0). A string that is exactly one placeholder becomes a number, so
//! `a = "{seq}"` sends an integer. `{pad:N}` is N characters of padding
//! (`x`), for large arguments: written out once, when the scenario is read.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use super::json_text::JsonText;
use crate::protocol::jsonrpc::{Params, member, member_of_value};

/// A placeholder a template may hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Placeholder {
    Seq,
    Worker,
}

impl Placeholder {
    pub fn named(name: &str) -> Option<Placeholder> {
        match name {
            "seq" => Some(Placeholder::Seq),
            "worker" => Some(Placeholder::Worker),
            _ => None,
        }
    }
}

/// Values for the placeholders of one call.
#[derive(Debug, Clone, Copy)]
pub struct CallContext {
    pub seq: u64,
    pub worker: u64,
}

impl CallContext {
    pub fn value_of(&self, placeholder: Placeholder) -> u64 {
        match placeholder {
            Placeholder::Seq => self.seq,
            Placeholder::Worker => self.worker,
        }
    }

    fn get(&self, name: &str) -> Option<u64> {
        Placeholder::named(name).map(|p| self.value_of(p))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// No placeholder anywhere: sent as is, without a copy per call.
    Fixed(Value, JsonText),
    Dynamic(Value, JsonText),
    /// `tools/call` params whose arguments are generated from the tool's
    /// input schema for each call (an automatic mix).
    Schema {
        tool: String,
        schema: Value,
        /// Values the user gave for some arguments (they may hold placeholders).
        given: Option<Box<Template>>,
    },
}

impl Template {
    /// Check placeholders. `Err` names the unknown one.
    pub fn new(value: Value) -> Result<Template, TemplateError> {
        let mut pad_budget = MAX_PAD_CHARS;
        let value = expand_pads(value, &mut pad_budget)?;
        let mut dynamic = false;
        check(&value, &mut dynamic)?;
        let json = JsonText::new(&value);
        Ok(if dynamic {
            Template::Dynamic(value, json)
        } else {
            Template::Fixed(value, json)
        })
    }

    pub fn render(&self, ctx: &CallContext) -> Cow<'_, Value> {
        match self {
            Template::Fixed(value, _) => Cow::Borrowed(value),
            Template::Dynamic(value, _) => Cow::Owned(render(value, ctx)),
            Template::Schema {
                tool,
                schema,
                given,
            } => {
                let given = given.as_ref().map(|g| g.render(ctx));
                let given = given
                    .as_ref()
                    .and_then(|g| g.as_object())
                    .cloned()
                    .unwrap_or_default();
                Cow::Owned(serde_json::json!({
                    "name": tool,
                    // The tool was left out of the mix if its schema could not
                    // be met; a call that still cannot sends no arguments.
                    "arguments": super::autogen::arguments_with(schema, ctx.seq, &given)
                        .unwrap_or_else(|_| serde_json::json!({})),
                }))
            }
        }
    }
}

impl Template {
    /// Whether `got` holds an answer of this template's shape with other
    /// values — the answer to another request (a mix-up) — rather than
    /// content of another kind (an `expect_text` that does not fit the
    /// server's answers). Rendered with marker values, the template's text
    /// splits into the literal pieces every answer of its shape holds, in order.
    pub fn shape_matches(&self, got: &str) -> bool {
        const SEQ_MARK: u64 = 918_273_645_546_372_819;
        const WORKER_MARK: u64 = 192_837_465_564_738_291;
        let marked = self.render(&CallContext {
            seq: SEQ_MARK,
            worker: WORKER_MARK,
        });
        let Some(text) = marked.as_str() else {
            return false;
        };
        let (seq, worker) = (SEQ_MARK.to_string(), WORKER_MARK.to_string());
        if !text.contains(&seq) && !text.contains(&worker) {
            // Fixed text: no other request's answer differs from it.
            return false;
        }
        let mut rest = got;
        for piece in text.split(&seq).flat_map(|p| p.split(&worker)) {
            match rest.find(piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

/// A template with the values of one call: the request's params, written
/// as JSON text from the template's prepared pieces.
pub struct Rendered<'a> {
    pub template: &'a Template,
    pub ctx: CallContext,
}

impl Params for Rendered<'_> {
    fn value(&self) -> Cow<'_, Value> {
        self.template.render(&self.ctx)
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        match self.template {
            Template::Fixed(_, json) | Template::Dynamic(_, json) => json.render(&self.ctx, out),
            Template::Schema { .. } => self.value().write_json(out),
        }
    }

    fn field(&self, path: &[&str]) -> Option<Cow<'_, Value>> {
        match self.template {
            Template::Fixed(value, _) => member(value, path).map(Cow::Borrowed),
            // Only the member is rendered, and only if it holds a placeholder.
            Template::Dynamic(value, _) => {
                let found = member(value, path)?;
                match found {
                    Value::String(text) if !text.contains('{') => Some(Cow::Borrowed(found)),
                    _ => Some(Cow::Owned(render(found, &self.ctx))),
                }
            }
            Template::Schema { .. } => member_of_value(self, path),
        }
    }
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder `{{{0}}}` (known: {{seq}}, {{worker}}, {{pad:N}})")]
    UnknownPlaceholder(String),
    #[error("`{{pad:` without its closing `}}`")]
    UnclosedPad,
    #[error(
        "`{{pad:{0}}}`: padding takes a whole number of characters, at most {MAX_PAD_CHARS} \
         in one call's params"
    )]
    BadPad(String),
}

/// The most padding one template may hold, all its `{pad:N}` together.
pub const MAX_PAD_CHARS: usize = 16 << 20;

/// Write out every `{pad:N}` in `value`, spending `budget`.
fn expand_pads(value: Value, budget: &mut usize) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(text) if text.contains("{pad:") => {
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            while let Some(start) = rest.find("{pad:") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 5..];
                let Some(close) = after.find('}') else {
                    return Err(TemplateError::UnclosedPad);
                };
                let chars: usize = after[..close]
                    .parse()
                    .ok()
                    .filter(|n| *n <= *budget)
                    .ok_or_else(|| TemplateError::BadPad(after[..close].to_string()))?;
                *budget -= chars;
                out.extend(std::iter::repeat_n('x', chars));
                rest = &after[close + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| expand_pads(v, budget))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Ok((k, expand_pads(v, budget)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other,
    })
}

/// Placeholder names in a string, as (start, end, name) byte ranges.
pub(super) fn placeholders(text: &str) -> Vec<(usize, usize, &str)> {
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find('{') {
        let start = rest + open;
        let Some(close) = text[start..].find('}') else {
            break;
        };
        let name = &text[start + 1..start + close];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            found.push((start, start + close + 1, name));
        }
        rest = start + 1;
    }
    found
}

fn check(value: &Value, dynamic: &mut bool) -> Result<(), TemplateError> {
    match value {
        Value::String(text) => {
            for (_, _, name) in placeholders(text) {
                if Placeholder::named(name).is_none() {
                    return Err(TemplateError::UnknownPlaceholder(name.to_string()));
                }
                *dynamic = true;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| check(v, dynamic)),
        Value::Object(map) => map.values().try_for_each(|v| check(v, dynamic)),
        _ => Ok(()),
    }
}

fn render(value: &Value, ctx: &CallContext) -> Value {
    match value {
        Value::String(text) => {
            let found = placeholders(text);
            if let [(0, end, name)] = found.as_slice()
                && *end == text.len()
                && let Some(n) = ctx.get(name)
            {
                return Value::from(n);
            }
            let mut out = String::with_capacity(text.len() + 8);
            let mut last = 0;
            for (start, end, name) in found {
                out.push_str(&text[last..start]);
                match ctx.get(name) {
                    Some(n) => out.push_str(&n.to_string()),
                    None => out.push_str(&text[start..end]),
                }
                last = end;
            }
            out.push_str(&text[last..]);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| render(v, ctx)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), render(v, ctx)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// Weighted choice among the entries of a mix, deterministic and lock-free:
/// a precomputed smooth weighted round-robin order, walked by sequence number.
/// With weights 3 and 1 every four calls hold exactly three of the first.
/// In turns, each step of that order lasts `turn` calls: one entry after
/// another, in the same proportions, so that what each entry does to the
/// server can be told apart (`stats::attribution`).
#[derive(Debug, Clone)]
pub struct MixSchedule {
    order: Vec<usize>,
    /// Calls each step of the order lasts (1: interleaved).
    turn: u64,
    next: std::sync::Arc<AtomicU64>,
}

impl MixSchedule {
    /// `weights` must not all be zero; they are reduced by their common
    /// divisor. `turn`: calls in a row of one entry (1: interleaved).
    pub fn new(weights: &[u64], turn: u64) -> MixSchedule {
        let divisor = weights.iter().copied().fold(0, gcd).max(1);
        let weights: Vec<i64> = weights.iter().map(|w| (w / divisor) as i64).collect();
        let total: i64 = weights.iter().sum();
        let mut current = vec![0i64; weights.len()];
        let mut order = Vec::with_capacity(total as usize);
        for _ in 0..total {
            for (c, w) in current.iter_mut().zip(&weights) {
                *c += w;
            }
            let (best, _) = current
                .iter()
                .enumerate()
                .max_by_key(|(i, c)| (**c, -(*i as i64)))
                .unwrap_or((0, &0));
            current[best] -= total;
            order.push(best);
        }
        if order.is_empty() {
            order.push(0);
        }
        MixSchedule {
            order,
            turn: turn.max(1),
            next: std::sync::Arc::new(AtomicU64::new(0)),
        }
    }

    /// Steps in one round of the order: one turn of each entry by weight.
    pub fn steps(&self) -> u64 {
        self.order.len() as u64
    }

    /// The entry for the next call.
    pub fn pick(&self) -> usize {
        let n = self.next.fetch_add(1, Ordering::Relaxed) / self.turn;
        self.order[(n % self.order.len() as u64) as usize]
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_request_s_answer_has_the_shape_and_other_content_has_not() {
        let expect =
            Template::new(serde_json::json!("request #{seq} from worker #{worker}.")).unwrap();
        assert!(expect.shape_matches("Echo: request #7 from worker #3."));
        assert!(!expect.shape_matches("Echo: hello"));
        assert!(!expect.shape_matches("request #7"));
        let fixed = Template::new(serde_json::json!("pong")).unwrap();
        assert!(!fixed.shape_matches("ping"));
    }
    use serde_json::json;

    #[test]
    fn renders_placeholders() {
        let t =
            Template::new(json!({"message": "hello {seq} from {worker}", "a": "{seq}", "b": 2}))
                .unwrap();
        let out = t.render(&CallContext { seq: 7, worker: 3 });
        assert_eq!(*out, json!({"message": "hello 7 from 3", "a": 7, "b": 2}));
        assert!(matches!(
            Template::new(json!({"x": "plain {not a placeholder}"})).unwrap(),
            Template::Fixed(..)
        ));
        let err = Template::new(json!({"m": "{sequence}"})).unwrap_err();
        assert!(err.to_string().contains("{sequence}"), "{err}");
    }

    #[test]
    fn pads_are_written_out_once_and_bounded() {
        let t = Template::new(json!({"blob": "<{pad:4096}>", "n": "{seq}"})).unwrap();
        let out = t.render(&CallContext { seq: 2, worker: 0 });
        let blob = out["blob"].as_str().unwrap();
        assert_eq!(blob.len(), 4098);
        assert!(blob.starts_with("<x") && blob.ends_with("x>"));
        assert_eq!(out["n"], 2);
        assert!(matches!(
            Template::new(json!("{pad:10}")).unwrap(),
            Template::Fixed(..)
        ));
        for bad in [
            "{pad:}",
            "{pad:-1}",
            "{pad:1e9}",
            "{pad:99999999999}",
            "{pad:3",
        ] {
            assert!(Template::new(json!(bad)).is_err(), "{bad}");
        }
        // The budget is for the whole params, not each pad.
        let half = MAX_PAD_CHARS / 2 + 1;
        assert!(
            Template::new(json!([
                format!("{{pad:{half}}}"),
                format!("{{pad:{half}}}")
            ]))
            .is_err()
        );
    }

    #[test]
    fn mix_keeps_exact_proportions() {
        let mix = MixSchedule::new(&[3, 1, 0], 1);
        let picks: Vec<usize> = (0..400).map(|_| mix.pick()).collect();
        assert_eq!(picks.iter().filter(|&&p| p == 0).count(), 300);
        assert_eq!(picks.iter().filter(|&&p| p == 1).count(), 100);
        // Interleaved, not 300 of one then 100 of the other.
        assert!(picks[..4].contains(&1));
    }

    #[test]
    fn in_turns_each_entry_gets_its_calls_in_a_row_in_the_same_proportions() {
        let mix = MixSchedule::new(&[1, 1, 2], 50);
        let picks: Vec<usize> = (0..800).map(|_| mix.pick()).collect();
        assert_eq!(picks.iter().filter(|&&p| p == 2).count(), 400);
        assert_eq!(picks.iter().filter(|&&p| p == 0).count(), 200);
        // Runs of 50 (or 100 where one entry's steps follow each other).
        let mut runs = Vec::new();
        let mut length = 1;
        for pair in picks.windows(2) {
            if pair[0] == pair[1] {
                length += 1;
            } else {
                runs.push(length);
                length = 1;
            }
        }
        assert!(runs.iter().all(|r| r % 50 == 0), "{runs:?}");
    }
}
