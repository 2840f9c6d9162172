//! The bad inputs of the robustness scenario: each a raw frame a careless or
//! hostile client could send, with the answer the specifications name for it.
//!
//! JSON-RPC 2.0 names the codes for frames it cannot accept: -32700 (not
//! JSON), -32600 (not a valid request), -32601 (no such method), -32602 (bad
//! params). MCP adds that an unknown tool or invalid arguments may instead be
//! a tool error (`isError: true`) — what the official SDKs answer — and that
//! over Streamable HTTP a refused message may come as an HTTP 4xx status.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

use super::jsonrpc::RawFrame;
use super::jsonrpc::codes;
use super::meta::dress;
use super::version::{Era, ProtocolVersion};

/// One kind of bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BadInput {
    MalformedJson,
    WrongJsonrpcVersion,
    MissingMethod,
    UnknownMethod,
    WrongTypedParams,
    UnknownTool,
    InvalidArguments,
    HugeRequest,
    BeforeInitialize,
}

impl BadInput {
    pub const ALL: [BadInput; 9] = [
        BadInput::MalformedJson,
        BadInput::WrongJsonrpcVersion,
        BadInput::MissingMethod,
        BadInput::UnknownMethod,
        BadInput::WrongTypedParams,
        BadInput::UnknownTool,
        BadInput::InvalidArguments,
        BadInput::HugeRequest,
        BadInput::BeforeInitialize,
    ];

    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            BadInput::MalformedJson => "malformed JSON",
            BadInput::WrongJsonrpcVersion => "wrong jsonrpc version",
            BadInput::MissingMethod => "request without a method",
            BadInput::UnknownMethod => "unknown method",
            BadInput::WrongTypedParams => "params of the wrong type",
            BadInput::UnknownTool => "tools/call of an unknown tool",
            BadInput::InvalidArguments => "tools/call with invalid arguments",
            BadInput::HugeRequest => "very large request",
            BadInput::BeforeInitialize => "request before initialize",
        }
    }

    /// What a robust server answers, in words.
    pub fn expected(self) -> &'static str {
        match self {
            BadInput::MalformedJson => "error -32700",
            BadInput::WrongJsonrpcVersion | BadInput::MissingMethod => "error -32600",
            BadInput::UnknownMethod => "error -32601",
            BadInput::WrongTypedParams => "error -32602 (or -32600)",
            BadInput::UnknownTool | BadInput::InvalidArguments => "error -32602 or a tool error",
            BadInput::HugeRequest => "any answer (even HTTP 413)",
            BadInput::BeforeInitialize => "an error (or HTTP 4xx), not a result",
        }
    }

    /// Whether it applies to a server speaking `version`: the stateless
    /// revision has no `initialize` to come before.
    pub fn applies_to(self, version: ProtocolVersion) -> bool {
        self != BadInput::BeforeInitialize || version.era() == Era::Handshake
    }

    /// The frame to send, built around request id `id`.
    pub fn frame(self, id: u64, version: ProtocolVersion, context: &FrameContext) -> RawFrame {
        let frame = self.build(id, version, context);
        RawFrame {
            bytes: frame.bytes(),
            method: frame.method,
            params: frame.params,
        }
    }

    fn build(self, id: u64, version: ProtocolVersion, context: &FrameContext) -> Frame {
        let dressed = |params: Value| {
            dress(version, Some(&params))
                .map(|p| p.into_owned())
                .unwrap_or(params)
        };
        // The stateless era wants its `_meta` on every request: bad frames
        // carry it too, so that only the fault under test is wrong.
        let meta_only = dressed(json!({}));
        let request = |method: &str, params: Value| Frame {
            body: json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
            raw: None,
            method: Some(method.to_string()),
            params: Some(params),
        };
        match self {
            BadInput::MalformedJson => Frame {
                raw: Some(format!(
                    r#"{{"jsonrpc": "2.0", "id": {id}, "method": "tools/list", "params": {{"#
                )),
                ..Frame::of(Value::Null, Some("tools/list"), Some(meta_only))
            },
            BadInput::WrongJsonrpcVersion => {
                let mut frame = request("tools/list", meta_only);
                frame.body["jsonrpc"] = json!("1.0");
                frame
            }
            BadInput::MissingMethod => {
                let mut frame = request("tools/list", meta_only);
                if let Some(body) = frame.body.as_object_mut() {
                    body.remove("method");
                }
                frame.method = None;
                frame
            }
            BadInput::UnknownMethod => request("mcpstorm/no-such-method", meta_only),
            BadInput::WrongTypedParams => {
                // Params must be an object (or array): a string is neither.
                let mut frame = request("tools/list", Value::Null);
                frame.body["params"] = json!("not an object");
                frame.params = None;
                frame
            }
            BadInput::UnknownTool => request(
                "tools/call",
                dressed(json!({"name": "mcpstorm-no-such-tool", "arguments": {}})),
            ),
            BadInput::InvalidArguments => request(
                "tools/call",
                dressed(json!({"name": context.tool, "arguments": context.invalid_arguments})),
            ),
            BadInput::HugeRequest => {
                // Padding in `_meta`, which any request may carry: the answer
                // stays small whatever the request's size.
                let mut params = meta_only;
                if let Some(meta) = params.get_mut("_meta").and_then(Value::as_object_mut) {
                    meta.insert(
                        "io.mcpstorm/padding".into(),
                        Value::from("x".repeat(context.huge_bytes)),
                    );
                } else {
                    params =
                        json!({"_meta": {"io.mcpstorm/padding": "x".repeat(context.huge_bytes)}});
                }
                request("tools/list", params)
            }
            BadInput::BeforeInitialize => request("tools/list", meta_only),
        }
    }

    /// Whether `answer` is what a robust server gives.
    pub fn judge(self, answer: &Answer) -> bool {
        let code = answer.error_code();
        // Over HTTP in the stateless era a frame whose method cannot be
        // mirrored in headers may be refused for that first (400, -32020).
        let header_refusal = matches!(
            answer,
            Answer::Status {
                code: Some(codes::HEADER_MISMATCH),
                ..
            }
        );
        match self {
            BadInput::MalformedJson => code == Some(codes::PARSE_ERROR) || header_refusal,
            BadInput::MissingMethod => code == Some(codes::INVALID_REQUEST) || header_refusal,
            BadInput::WrongJsonrpcVersion => code == Some(codes::INVALID_REQUEST),
            BadInput::UnknownMethod => code == Some(codes::METHOD_NOT_FOUND),
            BadInput::WrongTypedParams => {
                matches!(code, Some(codes::INVALID_PARAMS | codes::INVALID_REQUEST))
            }
            BadInput::UnknownTool | BadInput::InvalidArguments => {
                code == Some(codes::INVALID_PARAMS) || matches!(answer, Answer::ToolError)
            }
            BadInput::HugeRequest => matches!(
                answer,
                Answer::Result | Answer::ToolError | Answer::Error(_) | Answer::Status { .. }
            ),
            BadInput::BeforeInitialize => {
                matches!(answer, Answer::Error(_) | Answer::Status { .. })
            }
        }
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the frames need to know of the scenario.
#[derive(Debug, Clone)]
pub struct FrameContext {
    /// A tool the server has, for the invalid-arguments frame.
    pub tool: String,
    /// Arguments that break its `inputSchema`.
    pub invalid_arguments: Value,
    /// Size of the very large request's padding.
    pub huge_bytes: usize,
}

/// One frame: `body` serialized (or `raw` as it is, for a frame that is not
/// JSON), and the method and params its HTTP headers mirror.
struct Frame {
    body: Value,
    raw: Option<String>,
    method: Option<String>,
    params: Option<Value>,
}

impl Frame {
    fn of(body: Value, method: Option<&str>, params: Option<Value>) -> Frame {
        Frame {
            body,
            raw: None,
            method: method.map(str::to_string),
            params,
        }
    }

    /// The bytes on the wire, without the newline stdio adds.
    fn bytes(&self) -> Vec<u8> {
        match &self.raw {
            Some(raw) => raw.clone().into_bytes(),
            None => serde_json::to_vec(&self.body).unwrap_or_default(),
        }
    }
}

/// What the server did with a bad input.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A JSON-RPC error with this code.
    Error(i64),
    /// A normal result.
    Result,
    /// A tool result with `isError: true`.
    ToolError,
    /// HTTP: a non-2xx status, with the JSON-RPC error code its body carried.
    Status { status: u16, code: Option<i64> },
    /// Nothing within the time allowed.
    Silence(Duration),
    /// The connection went away (the server crashed or hung up).
    Lost(String),
    /// An answer that names the probe but cannot be read: why.
    Unreadable(String),
}

impl Answer {
    pub fn error_code(&self) -> Option<i64> {
        match self {
            Answer::Error(code)
            | Answer::Status {
                code: Some(code), ..
            } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Error(code) => write!(f, "error {code}"),
            Answer::Result => f.write_str("a result"),
            Answer::ToolError => f.write_str("a tool error"),
            Answer::Status {
                status,
                code: Some(code),
            } => write!(f, "HTTP {status}, error {code}"),
            Answer::Status { status, code: None } => write!(f, "HTTP {status}"),
            Answer::Silence(after) => write!(f, "no answer within {after:?}"),
            Answer::Lost(why) => write!(f, "connection lost: {why}"),
            Answer::Unreadable(why) => f.write_str(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> FrameContext {
        FrameContext {
            tool: "echo".into(),
            invalid_arguments: json!({}),
            huge_bytes: 1000,
        }
    }

    #[test]
    fn frames_carry_only_the_fault_under_test() {
        let modern = ProtocolVersion::LATEST;
        let sent = |input: BadInput, id| input.frame(id, modern, &context()).bytes;
        let json = |bytes: Vec<u8>| serde_json::from_slice::<Value>(&bytes).unwrap();
        let unknown = json(sent(BadInput::UnknownMethod, 7));
        assert_eq!(unknown["id"], 7);
        assert_eq!(unknown["jsonrpc"], "2.0");
        assert!(unknown.pointer("/params/_meta").is_some());
        let malformed = sent(BadInput::MalformedJson, 8);
        assert!(serde_json::from_slice::<Value>(&malformed).is_err());
        assert!(!malformed.contains(&b'\n'));
        let huge = sent(BadInput::HugeRequest, 9);
        assert!(huge.len() > 1000);
        json(huge);
        assert!(
            json(sent(BadInput::MissingMethod, 10))
                .get("method")
                .is_none()
        );
        assert_eq!(
            json(sent(BadInput::WrongJsonrpcVersion, 11))["jsonrpc"],
            "1.0"
        );
    }

    #[test]
    fn only_the_named_answers_pass() {
        assert!(BadInput::MalformedJson.judge(&Answer::Error(-32700)));
        assert!(!BadInput::MalformedJson.judge(&Answer::Error(-32600)));
        assert!(BadInput::MalformedJson.judge(&Answer::Status {
            status: 400,
            code: Some(-32700)
        }));
        assert!(!BadInput::UnknownMethod.judge(&Answer::Result));
        assert!(BadInput::UnknownTool.judge(&Answer::ToolError));
        assert!(!BadInput::UnknownTool.judge(&Answer::Result));
        assert!(BadInput::HugeRequest.judge(&Answer::Status {
            status: 413,
            code: None
        }));
        assert!(!BadInput::HugeRequest.judge(&Answer::Silence(Duration::from_secs(1))));
        assert!(!BadInput::BeforeInitialize.judge(&Answer::Result));
        for bad in BadInput::ALL {
            assert!(!bad.judge(&Answer::Lost("exited".into())), "{bad}");
        }
    }
}
