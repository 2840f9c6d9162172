//! Which protocol era a request to the target belongs to, and the target's
//! answers that differ by era: `server/discover`, unsupported versions, and
//! the `resultType` every 2026-07-28 result carries.

use clap::ValueEnum;
use serde_json::{Value, json};

use super::handlers::SERVER_NAME;
use crate::protocol::jsonrpc::{RpcError, codes};
use crate::protocol::{Era, ProtocolVersion};

/// The eras the target serves (`--era`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Eras {
    /// Both: `initialize` and `server/discover` (a dual-era server).
    #[default]
    Both,
    /// Only the `initialize` handshake: `server/discover` is unknown (a legacy server).
    Handshake,
    /// Only 2026-07-28: `initialize` is refused (a modern-only server).
    Stateless,
}

/// The revisions of the stateless era the target serves.
const MODERN: [&str; 1] = ["2026-07-28"];

fn unsupported(requested: &str) -> RpcError {
    RpcError {
        code: codes::UNSUPPORTED_PROTOCOL_VERSION,
        message: "Unsupported protocol version".into(),
        data: Some(json!({"supported": MODERN, "requested": requested})),
    }
}

/// The protocol version a request declares in `_meta`, if it is a modern one.
pub fn declared_version(params: Option<&Value>) -> Option<&str> {
    params?
        .pointer("/_meta/io.modelcontextprotocol~1protocolVersion")?
        .as_str()
}

/// Refuse what this era setting does not serve; `Ok(true)` for a request of
/// the stateless era (its result then gets a `resultType`).
pub fn admit(eras: Eras, method: &str, params: Option<&Value>) -> Result<bool, RpcError> {
    let not_found = || {
        RpcError::new(
            codes::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        )
    };
    match (eras, method, declared_version(params)) {
        (Eras::Handshake, "server/discover", _) => Err(not_found()),
        // A legacy server does not read `_meta`: the request is served as a legacy one.
        (Eras::Handshake, _, _) => Ok(false),
        (Eras::Stateless, "initialize", _) => Err(unsupported(
            params
                .and_then(|p| p.get("protocolVersion"))
                .and_then(Value::as_str)
                .unwrap_or(""),
        )),
        (_, _, Some(version)) => match version.parse::<ProtocolVersion>() {
            Ok(v) if v.era() == Era::Stateless && MODERN.contains(&version) => Ok(true),
            _ => Err(unsupported(version)),
        },
        (_, "server/discover", None) => Err(RpcError::new(
            codes::INVALID_PARAMS,
            "server/discover needs _meta.io.modelcontextprotocol/protocolVersion",
        )),
        (_, _, None) => Ok(false),
    }
}

pub fn discover() -> Value {
    json!({
        "supportedVersions": MODERN,
        "capabilities": {"tools": {}, "resources": {}, "prompts": {}},
        "serverInfo": {"name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION")},
    })
}

/// Mark a stateless-era result as complete (mcpstorm's target never asks
/// for more input).
pub fn complete(mut result: Value) -> Value {
    if let Value::Object(map) = &mut result {
        map.insert("resultType".into(), Value::from("complete"));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modern(version: &str) -> Value {
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": version}})
    }

    #[test]
    fn each_setting_admits_its_own_era() {
        let v2026 = modern("2026-07-28");
        assert_eq!(admit(Eras::Both, "tools/list", Some(&v2026)), Ok(true));
        assert_eq!(admit(Eras::Both, "tools/list", None), Ok(false));
        let old = modern("1999-01-01");
        let refused = admit(Eras::Both, "tools/list", Some(&old)).unwrap_err();
        assert_eq!(refused.code, -32022);
        assert_eq!(refused.data.unwrap()["supported"][0], "2026-07-28");
        assert_eq!(
            admit(Eras::Handshake, "server/discover", Some(&v2026))
                .unwrap_err()
                .code,
            -32601
        );
        assert_eq!(
            admit(Eras::Handshake, "tools/list", Some(&v2026)),
            Ok(false)
        );
        assert_eq!(
            admit(Eras::Stateless, "initialize", None).unwrap_err().code,
            -32022
        );
    }
}
