//! The target's MCP surface: what each method answers.

use serde_json::{Value, json};

use super::faults::FaultState;
use crate::protocol::ProtocolVersion;
use crate::protocol::jsonrpc::{RpcError, codes};

pub const SERVER_NAME: &str = "mcpstorm-target";
pub const STATUS_URI: &str = "mcpstorm://status";
pub const PROMPT_NAME: &str = "greet";

fn invalid_params(message: impl Into<String>) -> RpcError {
    RpcError::new(codes::INVALID_PARAMS, message)
}

/// Answer `initialize`: the client's version when it is a handshake-era one we
/// speak, else our newest (the client then decides whether to go on).
pub fn initialize(params: Option<&Value>) -> Result<Value, RpcError> {
    let asked = params
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params("initialize needs params.protocolVersion"))?;
    let version = match asked.parse::<ProtocolVersion>() {
        Ok(v) if v.era() == crate::protocol::Era::Handshake => v,
        _ => ProtocolVersion::LATEST_HANDSHAKE,
    };
    Ok(json!({
        "protocolVersion": version.as_str(),
        "capabilities": {"tools": {}, "resources": {}, "prompts": {}, "logging": {}},
        "serverInfo": {"name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION")},
    }))
}

pub fn tools_list() -> Value {
    let object = |properties: Value, required: &[&str]| json!({"type": "object", "properties": properties, "required": required});
    let read_only = json!({"readOnlyHint": true});
    json!({"tools": [
        {
            "name": "echo",
            "description": "Returns its message.",
            // `region` only shows the 2026-07-28 parameter headers at work:
            // over HTTP a call that sets it must carry Mcp-Param-Region too.
            "inputSchema": object(json!({
                "message": {"type": "string"},
                "region": {"type": "string", "x-mcp-header": "Region",
                           "description": "Optional; ignored, but mirrored in Mcp-Param-Region over HTTP"},
            }), &["message"]),
            "annotations": read_only,
        },
        {
            "name": "add",
            "description": "Adds two numbers.",
            "inputSchema": object(json!({"a": {"type": "number"}, "b": {"type": "number"}}), &["a", "b"]),
            "annotations": read_only,
        },
        {
            "name": "sleep",
            "description": "Waits the given milliseconds, then answers.",
            "inputSchema": object(json!({"ms": {"type": "number", "minimum": 0, "maximum": 60000}}), &["ms"]),
            "annotations": read_only,
        },
        {
            "name": "alloc",
            "description": "Keeps the given kilobytes resident for the life of the server.",
            "inputSchema": object(json!({"kb": {"type": "integer", "minimum": 0, "maximum": 1048576}}), &["kb"]),
            "annotations": {"readOnlyHint": false},
        },
    ]})
}

/// Tool results: text content, `isError` on a tool-level failure.
fn text(text: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": text.into()}]})
}

fn tool_error(message: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": message.into()}], "isError": true})
}

/// What a tool call needs done after the knobs' delay.
pub enum ToolPlan {
    Answer(Value),
    /// `sleep`: wait this long, then answer.
    Sleep(std::time::Duration),
}

/// Run a tool. Unknown tools are protocol errors (-32602); bad arguments are
/// tool errors (`isError`), as the 2025-11-25 specification asks.
pub fn call_tool(params: Option<&Value>, state: &FaultState) -> Result<ToolPlan, RpcError> {
    let name = params
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params("tools/call needs params.name"))?;
    let empty = Value::Object(Default::default());
    let args = params.and_then(|p| p.get("arguments")).unwrap_or(&empty);
    let number = |key: &str| args.get(key).and_then(Value::as_f64);
    let plan = match name {
        "echo" => match args.get("message").and_then(Value::as_str) {
            Some(message) => ToolPlan::Answer(text(state.echo(message))),
            None => ToolPlan::Answer(tool_error("echo needs a string `message`")),
        },
        "add" => match (number("a"), number("b")) {
            (Some(a), Some(b)) => ToolPlan::Answer(text(format_number(a + b))),
            _ => ToolPlan::Answer(tool_error("add needs numbers `a` and `b`")),
        },
        "sleep" => match number("ms") {
            Some(ms) if (0.0..=60_000.0).contains(&ms) => {
                ToolPlan::Sleep(std::time::Duration::from_secs_f64(ms / 1000.0))
            }
            _ => ToolPlan::Answer(tool_error("sleep needs `ms` between 0 and 60000")),
        },
        "alloc" => match args.get("kb").and_then(Value::as_u64) {
            Some(kb) if kb <= 1_048_576 => {
                let mut kept = state.kept.lock().map_err(|_| internal("state poisoned"))?;
                if !kept.keep((kb * 1024) as usize) {
                    return Err(internal("the kernel refused the memory"));
                }
                ToolPlan::Answer(text(format!("holding {} KB", kept.kept() / 1024)))
            }
            _ => ToolPlan::Answer(tool_error("alloc needs integer `kb` up to 1048576")),
        },
        other => return Err(invalid_params(format!("unknown tool: {other}"))),
    };
    Ok(plan)
}

fn internal(message: &str) -> RpcError {
    RpcError::new(codes::INTERNAL_ERROR, message)
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

pub fn failing_tool_result(number: u64) -> Value {
    tool_error(format!(
        "injected failure (--fail-rate) on request {number}"
    ))
}

pub fn resources_list() -> Value {
    json!({"resources": [{
        "uri": STATUS_URI,
        "name": "status",
        "description": "Counters of this server, as JSON.",
        "mimeType": "application/json",
    }]})
}

pub fn resources_read(params: Option<&Value>, state: &FaultState) -> Result<Value, RpcError> {
    let uri = params
        .and_then(|p| p.get("uri"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params("resources/read needs params.uri"))?;
    if uri != STATUS_URI {
        // -32002 is the code the specification gives for a resource not found.
        return Err(RpcError::new(-32002, format!("resource not found: {uri}")));
    }
    let status = json!({"requests": state.requests(), "pid": std::process::id()});
    Ok(json!({"contents": [{
        "uri": STATUS_URI,
        "mimeType": "application/json",
        "text": status.to_string(),
    }]}))
}

pub fn prompts_list() -> Value {
    json!({"prompts": [{
        "name": PROMPT_NAME,
        "description": "A greeting for someone.",
        "arguments": [{"name": "name", "description": "Who to greet", "required": true}],
    }]})
}

pub fn prompts_get(params: Option<&Value>) -> Result<Value, RpcError> {
    let name = params
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params("prompts/get needs params.name"))?;
    if name != PROMPT_NAME {
        return Err(invalid_params(format!("unknown prompt: {name}")));
    }
    let who = params
        .and_then(|p| p.get("arguments"))
        .and_then(|a| a.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params("prompt greet needs argument `name`"))?;
    Ok(json!({
        "description": "A greeting",
        "messages": [{"role": "user", "content": {"type": "text", "text": format!("Say hello to {who}.")}}],
    }))
}
