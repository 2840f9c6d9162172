//! How a call's reply counts: one of the six outcomes, with the message
//! kept for the report.

use crate::protocol::jsonrpc::ResponseBody;
use crate::protocol::outcome::tool_text;
use crate::protocol::{Classified, Outcome};
use crate::transport::{Reply, RequestError};

/// Classify what a request got back. `is_tool_call` enables the `isError` check.
pub fn classify(reply: &Result<Reply, RequestError>, is_tool_call: bool) -> Classified {
    let reply = match reply {
        Ok(reply) => reply,
        Err(RequestError::Timeout(after)) => {
            return Classified::failed(Outcome::Timeout, format!("no response within {after:?}"));
        }
        Err(
            RequestError::Closed(why)
            | RequestError::Http(why)
            | RequestError::Status { detail: why, .. }
            // The load path counts these apart (not sent); elsewhere they are
            // transport errors whose message says whose limit it was.
            | RequestError::LocalLimit(why)
            | RequestError::AuthRefused(why),
        ) => {
            return Classified::failed(Outcome::TransportError, why);
        }
        Err(expired @ RequestError::SessionExpired) => {
            return Classified::failed(Outcome::TransportError, expired.to_string());
        }
        Err(RequestError::Protocol(why)) => {
            return Classified::failed(Outcome::ProtocolError, why);
        }
    };
    match &reply.body {
        ResponseBody::Error(error) => Classified::failed_fmt(
            Outcome::RpcError,
            format_args!("JSON-RPC error {}: {}", error.code, error.message),
        ),
        ResponseBody::Unusable(why) => Classified::failed(Outcome::ProtocolError, why),
        ResponseBody::Result(result) if !result.is_object() => Classified::failed_fmt(
            Outcome::ProtocolError,
            format_args!("result is not an object: {}", result.text()),
        ),
        ResponseBody::Result(result) if is_tool_call && result.is_error() => {
            Classified::failed_fmt(
                Outcome::ToolError,
                format_args!(
                    "isError: {}",
                    result.value().map(|v| tool_text(&v)).unwrap_or_default()
                ),
            )
        }
        ResponseBody::Result(_) => Classified::ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jsonrpc::{ResultText, RpcError};
    use serde_json::json;
    use std::time::{Duration, Instant};

    fn reply(body: ResponseBody) -> Result<Reply, RequestError> {
        Ok(Reply {
            body,
            received_at: Instant::now(),
        })
    }

    #[test]
    fn classifies_the_six_outcomes() {
        let ok = reply(ResponseBody::Result(ResultText::from_value(
            &json!({"content": []}),
        )));
        assert_eq!(classify(&ok, true).outcome, Outcome::Ok);
        let tool_error = reply(ResponseBody::Result(ResultText::from_value(
            &json!({"isError": true, "content": [{"type": "text", "text": "boom"}]}),
        )));
        let classified = classify(&tool_error, true);
        assert_eq!(classified.outcome, Outcome::ToolError);
        assert!(classified.message.unwrap().contains("boom"));
        // isError only means something on tools/call.
        assert_eq!(classify(&tool_error, false).outcome, Outcome::Ok);
        let rpc = reply(ResponseBody::Error(RpcError::new(-32601, "nope")));
        assert_eq!(classify(&rpc, false).outcome, Outcome::RpcError);
        let bad = reply(ResponseBody::Result(ResultText::from_value(&json!(42))));
        assert_eq!(classify(&bad, false).outcome, Outcome::ProtocolError);
        let timeout = Err(RequestError::Timeout(Duration::from_secs(1)));
        assert_eq!(classify(&timeout, false).outcome, Outcome::Timeout);
        let closed = Err(RequestError::Closed("gone".into()));
        assert_eq!(classify(&closed, false).outcome, Outcome::TransportError);
    }
}
