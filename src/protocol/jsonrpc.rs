//! JSON-RPC 2.0 framing: what one line from the server means.
//!
//! The reader never trusts the server: every line is classified, and anything
//! that is not a well-formed message becomes [`Incoming::Invalid`] with a short
//! sample kept for the report, never a panic.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// Standard JSON-RPC error codes, named as the specification names them.
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// MCP 2026-07-28: the request's protocol version is not served
    /// (`data.supported` lists those that are).
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
    /// MCP 2026-07-28 over HTTP: a mirrored header is missing or differs
    /// from the body.
    pub const HEADER_MISMATCH: i64 = -32020;
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }
}

/// The body of a response: exactly one of `result` or `error`.
#[derive(Debug, Clone)]
pub enum ResponseBody {
    Result(ResultText),
    Error(RpcError),
    /// A response that names its request but cannot be read (nested deeper
    /// than the parser follows, or broken after its id): why. Its call ends
    /// at once, as a protocol error.
    Unusable(String),
}

/// A response's `result`, kept as the server's JSON text. A call under load
/// only needs to know whether it is an object and whether `isError` is set;
/// building a value tree for every result (and freeing it) was a fifth of
/// mcpstorm's own work per call. Setup and catalogs ask for the value.
#[derive(Debug, Clone)]
pub struct ResultText(Box<RawValue>);

/// A result that was checked as JSON but cannot be built as a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnreadableResult {
    #[error("unreadable result: nested deeper than the 128 levels mcpstorm reads")]
    TooDeep,
    #[error("unreadable result: {0}")]
    Json(String),
}

impl ResultText {
    #[cfg(test)]
    pub fn from_value(value: &Value) -> ResultText {
        // A Value always serializes; `null` stands in if it ever did not.
        ResultText(serde_json::value::to_raw_value(value).unwrap_or_else(|_| null_text()))
    }

    /// The JSON text as the server sent it.
    pub fn text(&self) -> &str {
        self.0.get()
    }

    /// The result as a value. The text is JSON (it was checked when read),
    /// but a value tree has a depth limit the check did not have: a result
    /// nested deeper than 128 levels cannot be built, and says so.
    pub fn value(&self) -> Result<Value, UnreadableResult> {
        serde_json::from_str(self.0.get()).map_err(|error| {
            if error.to_string().contains("recursion limit") {
                UnreadableResult::TooDeep
            } else {
                UnreadableResult::Json(error.to_string())
            }
        })
    }

    pub fn is_object(&self) -> bool {
        self.0.get().starts_with('{')
    }

    /// A tool result's `"isError": true`, read without building the result.
    pub fn is_error(&self) -> bool {
        #[derive(Deserialize)]
        struct Flag {
            #[serde(rename = "isError")]
            is_error: Option<bool>,
        }
        let text = self.0.get();
        // Most results do not name the key at all: no second parse for them.
        // (A key spelled with escapes still is parsed.)
        let may_have_key = text.contains("isError") || text.contains("\\u");
        self.is_object()
            && may_have_key
            && serde_json::from_str::<Flag>(text).is_ok_and(|f| f.is_error == Some(true))
    }
}

#[cfg(test)]
fn null_text() -> Box<RawValue> {
    RawValue::from_string("null".into()).expect("null is JSON")
}

/// One message received from the server, classified.
#[derive(Debug)]
pub enum Incoming {
    /// A response. `id` is kept raw: matching it to a request is the correlator's job,
    /// and a wrong-typed id must be reported, not coerced.
    Response {
        id: Option<Value>,
        body: ResponseBody,
    },
    /// A request from the server to the client (sampling, roots, ping, …).
    Request { id: Value, method: String },
    /// A notification from the server (logging, progress, list_changed, …).
    Notification { method: String },
    /// Anything else: not JSON, not an object, wrong `jsonrpc`, neither method nor result.
    Invalid { reason: String, sample: String },
}

/// Longest sample of a bad line kept for display.
const SAMPLE_CHARS: usize = 200;

/// A printable, bounded excerpt of a line that may be huge or not UTF-8.
pub fn sample_of(line: &[u8]) -> String {
    let head = &line[..line.len().min(SAMPLE_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let mut sample: String = text.chars().take(SAMPLE_CHARS).collect();
    if sample.len() < line.len() {
        sample.push('…');
    }
    sample
}

/// A message as read, its `jsonrpc` and `result` borrowed as raw text.
#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    jsonrpc: Option<&'a RawValue>,
    // `Option<Option<_>>` tells a missing id from `"id": null`, which both count
    // as a missing id for a response but mean different things for a request.
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<Value>>,
    method: Option<Value>,
    // `"result": null` is kept (and found not to be an object), not taken as missing.
    #[serde(default, borrow, deserialize_with = "present_raw")]
    result: Option<&'a RawValue>,
    error: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Value>>, D::Error> {
    Option::<Value>::deserialize(d).map(Some)
}

fn present_raw<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Classify one line (without its trailing newline).
pub fn classify(line: &[u8]) -> Incoming {
    let invalid = |reason: &str| Incoming::Invalid {
        reason: reason.to_string(),
        sample: sample_of(line),
    };
    let raw: RawMessage = match serde_json::from_slice(line) {
        Ok(raw) => raw,
        Err(err) => {
            let reason = if err.to_string().contains("recursion limit") {
                "nested deeper than the 128 levels mcpstorm reads".to_string()
            } else if err.is_data() {
                "not a JSON-RPC object".to_string()
            } else if std::str::from_utf8(line).is_err() {
                format!("invalid UTF-8 ({err})")
            } else {
                "not JSON".to_string()
            };
            return match super::id_scan::response_id(line) {
                Some(id) => Incoming::Response {
                    id: Some(Value::from(id)),
                    body: ResponseBody::Unusable(format!(
                        "unreadable response ({reason}): {}",
                        sample_of(line)
                    )),
                },
                None => invalid(&reason),
            };
        }
    };
    if raw.jsonrpc.map(RawValue::get) != Some(r#""2.0""#) {
        return invalid("missing or wrong \"jsonrpc\": \"2.0\"");
    }
    if let Some(method) = raw.method {
        let Some(method) = method.as_str().map(str::to_owned) else {
            return invalid("\"method\" is not a string");
        };
        return match raw.id {
            Some(Some(id)) => Incoming::Request { id, method },
            _ => Incoming::Notification { method },
        };
    }
    let id = raw.id.flatten();
    match (raw.result, raw.error) {
        (Some(result), None) => Incoming::Response {
            id,
            body: ResponseBody::Result(ResultText(result.to_owned())),
        },
        (None, Some(error)) => match parse_error_object(&error) {
            Some(error) => Incoming::Response {
                id,
                body: ResponseBody::Error(error),
            },
            None => invalid("\"error\" is not an object with an integer \"code\""),
        },
        (Some(_), Some(_)) => invalid("response has both \"result\" and \"error\""),
        (None, None) => invalid("neither a request, a notification nor a response"),
    }
}

fn parse_error_object(error: &Value) -> Option<RpcError> {
    let code = error.get("code")?.as_i64()?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some(RpcError {
        code,
        message,
        data: error.get("data").cloned(),
    })
}

/// A request's `params`: something that can give itself as a JSON value and
/// write itself as JSON text (an object). A call template writes its text
/// straight from pieces prepared once, with no value tree built per call;
/// the value is for what must look inside (HTTP's mirrored headers).
pub trait Params: Sync {
    fn value(&self) -> Cow<'_, Value>;
    fn write_json(&self, out: &mut Vec<u8>);
    /// The member at `path`, one key per level (what HTTP mirrors into
    /// headers), without building the whole value where the params can
    /// help it.
    fn field(&self, path: &[&str]) -> Option<Cow<'_, Value>> {
        member_of_value(self, path)
    }
    /// Whether the params hold a `_meta` of their own.
    fn has_meta(&self) -> bool {
        self.field(&["_meta"]).is_some()
    }
}

/// The member of `params` at `path`, found in their whole value (for
/// params that cannot do better).
pub fn member_of_value<P: Params + ?Sized>(
    params: &P,
    path: &[&str],
) -> Option<Cow<'static, Value>> {
    member(&params.value(), path).cloned().map(Cow::Owned)
}

/// The member of `value` at `path`, one key per level.
pub fn member<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

impl Params for Value {
    fn value(&self) -> Cow<'_, Value> {
        Cow::Borrowed(self)
    }

    fn field(&self, path: &[&str]) -> Option<Cow<'_, Value>> {
        member(self, path).map(Cow::Borrowed)
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail; a Value always serializes.
        let _ = serde_json::to_writer(out, self);
    }
}

/// Serialize a request line (with trailing newline) without building a `Value` tree.
pub fn request_line(id: u64, method: &str, params: Option<&dyn Params>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + method.len());
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    write_integer(&mut out, id);
    push_method_and_params(&mut out, method, params);
    out
}

/// Whether a request given up on is cancelled with `notifications/cancelled`:
/// every one but `initialize`, which a client MUST NOT cancel.
pub fn cancellable(method: &str) -> bool {
    method != "initialize"
}

/// The params of `notifications/cancelled` for request `id`, given up on
/// after `timeout`.
pub fn cancellation(id: u64, timeout: std::time::Duration) -> Value {
    serde_json::json!({
        "requestId": id,
        "reason": format!("mcpstorm: no response within {} ms", timeout.as_millis()),
    })
}

/// Serialize a notification line (with trailing newline).
pub fn notification_line(method: &str, params: Option<&Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + method.len());
    out.extend_from_slice(br#"{"jsonrpc":"2.0""#);
    push_method_and_params(&mut out, method, params.map(|p| p as &dyn Params));
    out
}

fn push_method_and_params(out: &mut Vec<u8>, method: &str, params: Option<&dyn Params>) {
    out.extend_from_slice(br#","method":"#);
    // Writing into a Vec cannot fail; a String always serializes.
    let _ = serde_json::to_writer(&mut *out, method);
    if let Some(params) = params {
        out.extend_from_slice(br#","params":"#);
        params.write_json(out);
    }
    out.extend_from_slice(b"}\n");
}

/// Write `n` in decimal, without the allocation of `to_string`.
pub fn write_integer(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Serialize a response line (with trailing newline) for the built-in server.
pub fn response_line(id: &Value, body: Result<Value, RpcError>) -> Vec<u8> {
    let message = match body {
        Ok(result) => serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => {
            let mut body = serde_json::json!({"code": error.code, "message": error.message});
            if let Some(data) = error.data {
                body["data"] = data;
            }
            serde_json::json!({"jsonrpc": "2.0", "id": id, "error": body})
        }
    };
    let mut out = serde_json::to_vec(&message).unwrap_or_default();
    out.push(b'\n');
    out
}

/// A frame sent as it is (the robustness probes): its bytes, and the method
/// and params that HTTP headers mirror.
pub struct RawFrame {
    pub bytes: Vec<u8>,
    pub method: Option<String>,
    pub params: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_each_kind_of_line() {
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#),
            Incoming::Response {
                id: Some(Value::Number(_)),
                body: ResponseBody::Result(_)
            }
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"x"}}"#),
            Incoming::Response {
                body: ResponseBody::Error(RpcError { code: -32601, .. }),
                ..
            }
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","method":"notifications/message","params":{}}"#),
            Incoming::Notification { .. }
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":"a","method":"roots/list"}"#),
            Incoming::Request { .. }
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#),
            Incoming::Response { id: None, .. }
        ));
    }

    #[test]
    fn results_are_read_from_their_text() {
        let result = |line: &[u8]| match classify(line) {
            Incoming::Response {
                body: ResponseBody::Result(result),
                ..
            } => result,
            other => panic!("{other:?} should be a result"),
        };
        let tool_error =
            result(br#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}"#);
        assert!(tool_error.is_object() && tool_error.is_error());
        assert_eq!(tool_error.value().unwrap()["isError"], true);
        let escaped = result(br#"{"jsonrpc":"2.0","id":1,"result":{"\u0069sError":true}}"#);
        assert!(escaped.is_error());
        for line in [
            &br#"{"jsonrpc":"2.0","id":1,"result":{"isError":false}}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"result":{"isError":"yes"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"isError":true}]}}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":[true]}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"text":"\u00e9"}]}}"#,
        ] {
            assert!(
                !result(line).is_error(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        let null = result(br#"{"jsonrpc":"2.0","id":1,"result":null}"#);
        assert!(!null.is_object());
        assert_eq!(null.text(), "null");
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for (line, reason) in [
            (&b"Server started on port 3"[..], "not JSON"),
            (b"[1,2]", "not a JSON-RPC object"),
            (br#"{"jsonrpc":"1.0","id":1,"result":{}}"#, "jsonrpc"),
            (br#"{"jsonrpc":"2.0","id":1}"#, "neither"),
            (b"{\"jsonrpc\":\"2.0\",\"result\":\"\xff\"}", "UTF-8"),
        ] {
            match classify(line) {
                Incoming::Invalid { reason: got, .. } => {
                    assert!(got.contains(reason), "{got:?} should mention {reason:?}")
                }
                other => panic!("{other:?} should be invalid"),
            }
        }
    }

    #[test]
    fn an_unreadable_response_that_names_its_request_is_delivered_to_it() {
        // Its call then ends at once as a protocol error, not at its timeout.
        let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\xff\"}";
        match classify(line) {
            Incoming::Response {
                id: Some(id),
                body: ResponseBody::Unusable(why),
            } => {
                assert_eq!(id, 1);
                assert!(why.contains("UTF-8"), "{why}");
            }
            other => panic!("{other:?} should be an unusable response"),
        }
    }

    #[test]
    fn request_lines_are_valid_json() {
        let params = serde_json::json!({"name": "echo", "arguments": {"message": "a\"b"}});
        let line = request_line(7, "tools/call", Some(&params));
        let mut n = Vec::new();
        for value in [0, 9, 10, 123_456, u64::MAX] {
            n.clear();
            write_integer(&mut n, value);
            assert_eq!(n, value.to_string().into_bytes());
        }
        let parsed: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed["id"], 7);
        assert_eq!(parsed["params"]["arguments"]["message"], "a\"b");
        assert_eq!(*line.last().unwrap(), b'\n');
    }
}
