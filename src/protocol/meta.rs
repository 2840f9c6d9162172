//! The stateless era's per-request `params._meta`: the protocol version, the
//! client's capabilities and its name, carried by every request of
//! 2026-07-28 instead of a handshake.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::version::{Era, ProtocolVersion};

/// `_meta` keys every stateless-era request carries.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";

/// Params as the era wants them: unchanged in the handshake era; in the
/// stateless era with the protocol version, client capabilities and client
/// info in `params._meta` (keys already there are kept).
pub fn dress(version: ProtocolVersion, params: Option<&Value>) -> Option<Cow<'_, Value>> {
    if version.era() == Era::Handshake {
        return params.map(Cow::Borrowed);
    }
    let mut dressed = match params {
        Some(Value::Object(map)) => map.clone(),
        _ => serde_json::Map::new(),
    };
    let meta = dressed
        .entry("_meta")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(meta) = meta {
        meta.insert(META_PROTOCOL_VERSION.into(), Value::from(version.as_str()));
        meta.entry(META_CLIENT_CAPABILITIES)
            .or_insert_with(|| json!({}));
        meta.entry(META_CLIENT_INFO)
            .or_insert_with(|| json!({"name": "mcpstorm", "version": env!("CARGO_PKG_VERSION")}));
    }
    Some(Cow::Owned(Value::Object(dressed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_requests_go_as_they_are() {
        let params = json!({"name": "echo"});
        let dressed = dress(ProtocolVersion::V2025_11_25, Some(&params));
        assert!(matches!(dressed, Some(Cow::Borrowed(p)) if *p == params));
        assert!(dress(ProtocolVersion::V2025_11_25, None).is_none());
    }

    #[test]
    fn stateless_requests_carry_version_and_capabilities() {
        let params = json!({"name": "echo", "_meta": {"progressToken": 7}});
        let dressed = dress(ProtocolVersion::V2026_07_28, Some(&params)).unwrap();
        let meta = &dressed["_meta"];
        assert_eq!(meta[META_PROTOCOL_VERSION], "2026-07-28");
        assert!(meta[META_CLIENT_CAPABILITIES].is_object());
        assert_eq!(meta["progressToken"], 7, "existing _meta keys are kept");
        assert_eq!(dressed["name"], "echo");
        // A method without params still gets them.
        let bare = dress(ProtocolVersion::V2026_07_28, None).unwrap();
        assert_eq!(bare["_meta"][META_PROTOCOL_VERSION], "2026-07-28");
    }
}
