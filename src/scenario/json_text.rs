//! A template's JSON text, written once with holes where its placeholders go.
//!
//! Rendering a call's params then copies text and writes a few digits: no
//! value tree is built, walked and freed for each call, which at thousands of
//! calls a second was a fair share of mcpstorm's own CPU.

use serde_json::Value;

use super::template::{CallContext, Placeholder, placeholders};
use crate::protocol::jsonrpc::write_integer;

#[derive(Debug, Clone, PartialEq)]
pub struct JsonText {
    /// The text around the holes: the template as it serializes, each
    /// placeholder cut out.
    text: Vec<u8>,
    /// Where each hole is in `text`, and the placeholder that fills it:
    /// always a number, bare or inside a string (digits need no escaping,
    /// so they go in as they are).
    holes: Vec<(usize, Placeholder)>,
}

impl JsonText {
    /// The text of `value`, with a hole for every known placeholder. A string
    /// that is exactly one placeholder becomes a bare number, as in
    /// [`super::template::Template::render`].
    pub fn new(value: &Value) -> JsonText {
        let mut json = JsonText {
            text: Vec::new(),
            holes: Vec::new(),
        };
        json.write(value);
        json
    }

    /// Write the text with the holes filled for `ctx`.
    pub fn render(&self, ctx: &CallContext, out: &mut Vec<u8>) {
        let mut from = 0;
        for &(at, placeholder) in &self.holes {
            out.extend_from_slice(&self.text[from..at]);
            write_integer(out, ctx.value_of(placeholder));
            from = at;
        }
        out.extend_from_slice(&self.text[from..]);
    }

    fn write(&mut self, value: &Value) {
        match value {
            Value::String(text) => self.write_string(text),
            Value::Array(items) => {
                self.text.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.text.push(b',');
                    }
                    self.write(item);
                }
                self.text.push(b']');
            }
            Value::Object(map) => {
                self.text.push(b'{');
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        self.text.push(b',');
                    }
                    self.write_literal(key);
                    self.text.push(b':');
                    self.write(item);
                }
                self.text.push(b'}');
            }
            // Writing into a Vec cannot fail.
            other => {
                let _ = serde_json::to_writer(&mut self.text, other);
            }
        }
    }

    fn write_string(&mut self, text: &str) {
        let found: Vec<(usize, usize, Placeholder)> = placeholders(text)
            .into_iter()
            .filter_map(|(start, end, name)| Some((start, end, Placeholder::named(name)?)))
            .collect();
        if let [(0, end, hole)] = found.as_slice()
            && *end == text.len()
        {
            self.holes.push((self.text.len(), *hole));
            return;
        }
        if found.is_empty() {
            self.write_literal(text);
            return;
        }
        self.text.push(b'"');
        let mut last = 0;
        for (start, end, hole) in found {
            self.write_inner(&text[last..start]);
            self.holes.push((self.text.len(), hole));
            last = end;
        }
        self.write_inner(&text[last..]);
        self.text.push(b'"');
    }

    /// A string as JSON, quotes included.
    fn write_literal(&mut self, text: &str) {
        let _ = serde_json::to_writer(&mut self.text, text);
    }

    /// A piece of a string as JSON, escaped, without its quotes.
    fn write_inner(&mut self, piece: &str) {
        let start = self.text.len();
        self.write_literal(piece);
        self.text.pop();
        self.text.remove(start);
    }
}

#[cfg(test)]
mod tests {
    use super::super::template::Template;
    use super::*;
    use serde_json::json;

    /// The text must parse to exactly the value the template renders.
    #[test]
    fn text_matches_the_rendered_value() {
        let templates = [
            json!({"message": "hello {seq} from {worker}", "a": "{seq}", "b": 2}),
            json!({"name": "echo", "arguments": {"message": "cost {seq}"}}),
            json!({"q": "\"quoted\" \\ {seq}\n\t☃ {worker}{seq}", "n": null, "f": 1.5}),
            json!({"list": ["{worker}", "x{seq}y", [true, {"k{seq}": "{seq}"}]], "e": {}}),
            json!({"literal": "{not a placeholder} {seq", "empty": ""}),
        ];
        for value in templates {
            let template = Template::new(value.clone()).unwrap();
            let text = JsonText::new(&value);
            for ctx in [
                CallContext { seq: 1, worker: 0 },
                CallContext {
                    seq: 98_765_432_101,
                    worker: 63,
                },
            ] {
                let mut out = Vec::new();
                text.render(&ctx, &mut out);
                let parsed: Value = serde_json::from_slice(&out)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
                assert_eq!(parsed, *template.render(&ctx), "{value}");
            }
        }
    }
}
