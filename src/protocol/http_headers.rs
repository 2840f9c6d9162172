//! The HTTP headers of Streamable HTTP that both ends read: the session id,
//! the protocol version, and the stateless era's per-message headers that
//! mirror the body (`Mcp-Method`, `Mcp-Name`, declared `Mcp-Param-*`), with
//! the specification's `=?base64?…?=` form for text a header cannot carry.
//! The client sends them (`transport::http`); the built-in server checks them.

use base64::Engine;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::jsonrpc::Params;
use super::meta::META_PROTOCOL_VERSION;
use super::param_headers::ParamHeaders;

pub const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
pub const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
pub const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
pub const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// The stateless era's per-message headers, mirrored from the body: the
/// protocol version of `_meta`, the method, the tool, prompt or resource
/// named, and a tool call's declared `Mcp-Param-*` arguments. Handshake-era
/// messages (no `_meta` version) get none.
pub fn message_headers(
    method: &str,
    params: Option<&dyn Params>,
    param_headers: Option<&ParamHeaders>,
) -> HeaderMap {
    // Room for these and the fixed ones `send` adds, so none of the inserts
    // grows the map.
    let mut headers = HeaderMap::with_capacity(16);
    let version = params.and_then(|p| p.field(&["_meta", META_PROTOCOL_VERSION]));
    let Some(version) = version.as_deref().and_then(Value::as_str) else {
        return headers;
    };
    if let Ok(version) = HeaderValue::from_str(version) {
        headers.insert(PROTOCOL_VERSION, version);
    }
    headers.insert(MCP_METHOD, header_safe(method));
    let name = mirrored_field(method).and_then(|field| params?.field(&[field]));
    if let Some(name) = name.as_deref().and_then(Value::as_str) {
        headers.insert(MCP_NAME, header_safe(name));
        let bindings = match param_headers {
            Some(declared) if method == "tools/call" => declared.bindings(name),
            _ => &[],
        };
        // Each declared argument is looked up on its own: the arguments are
        // not rendered whole for the few (often none) a call sets.
        for binding in bindings {
            let path: Vec<&str> = std::iter::once("arguments")
                .chain(binding.path.iter().map(String::as_str))
                .collect();
            let value = params.and_then(|p| p.field(&path));
            if let Some(header) = value.and_then(|value| binding.header_for(&value)) {
                headers.insert(header.0, header.1);
            }
        }
    }
    headers
}

/// The member of params that `Mcp-Name` mirrors: `name` of a tool call or
/// prompt, `uri` of a resource read; none for other methods.
fn mirrored_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// What `Mcp-Name` mirrors, read from params as a value.
pub fn mirrored_name<'a>(method: &str, params: Option<&'a Value>) -> Option<&'a str> {
    params?.get(mirrored_field(method)?)?.as_str()
}

/// A header value for `text`: as it is when it is plain visible ASCII (inner
/// spaces allowed), else the specification's `=?base64?…?=` form — also used
/// when the text itself looks like that form.
pub fn header_safe(text: &str) -> HeaderValue {
    let visible_ascii = text
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b));
    let padded = text.starts_with([' ', '\t']) || text.ends_with([' ', '\t']);
    let looks_encoded = text.starts_with("=?base64?") && text.ends_with("?=");
    let plain = !text.is_empty() && visible_ascii && !padded && !looks_encoded;
    let value = if plain {
        HeaderValue::from_str(text)
    } else {
        HeaderValue::from_str(&format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(text)
        ))
    };
    value.unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The text of a `header_safe` value (what a server compares to the body).
pub fn header_text(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    match text
        .strip_prefix("=?base64?")
        .and_then(|t| t.strip_suffix("?="))
    {
        Some(encoded) => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?,
        )
        .ok(),
        None => Some(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_outside_plain_ascii_are_base64_encoded() {
        assert_eq!(header_safe("get_weather"), "get_weather");
        assert_eq!(
            header_safe("Hello, 世界"),
            "=?base64?SGVsbG8sIOS4lueVjA==?="
        );
        assert_eq!(header_safe(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(header_safe("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(
            header_safe("=?base64?literal?="),
            "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="
        );
        for text in [
            "get_weather",
            "Hello, 世界",
            " padded ",
            "=?base64?literal?=",
        ] {
            assert_eq!(header_text(&header_safe(text)).as_deref(), Some(text));
        }
    }

    #[test]
    fn stateless_messages_mirror_the_body_in_headers() {
        let params = json!({"name": "echo", "arguments": {},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}});
        let headers = message_headers("tools/call", Some(&params as &dyn Params), None);
        assert_eq!(headers[PROTOCOL_VERSION], "2026-07-28");
        assert_eq!(headers[MCP_METHOD], "tools/call");
        assert_eq!(headers[MCP_NAME], "echo");
        let read = json!({"uri": "mcpstorm://status",
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}});
        assert_eq!(
            message_headers("resources/read", Some(&read as &dyn Params), None)[MCP_NAME],
            "mcpstorm://status"
        );
        // Handshake era: nothing per message.
        let handshake = json!({"name": "echo"});
        assert!(message_headers("tools/call", Some(&handshake as &dyn Params), None).is_empty());
    }
}
