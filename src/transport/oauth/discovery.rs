//! Where an MCP server's tokens come from, found as the specification
//! says: the protected resource's metadata (RFC 9728: named by a 401's
//! `WWW-Authenticate`, else at the well-known URIs), then its first
//! authorization server's metadata (RFC 8414, then OpenID Connect Discovery).

use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use http::{Method, StatusCode, Uri};
use serde_json::Value;

use super::{Endpoint, OAuthClient, OAuthError, document, fetch};
use crate::protocol::untrusted::quote;
use crate::transport::fetch::{Answer, Fetcher, origin};

/// Find the token endpoint as the specification says: the protected
/// resource's metadata (from a 401's challenge, else the well-known URIs),
/// then its first authorization server's metadata.
pub(super) async fn discover(
    mcp_url: &Uri,
    client: &OAuthClient,
    http: &Fetcher,
) -> Result<Endpoint, OAuthError> {
    let origin = origin(mcp_url);
    // An unauthenticated request: a protected server answers 401, naming
    // its metadata (and maybe the scopes it wants).
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    let ping = br#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#.to_vec();
    let (challenge_metadata, challenge_scope) =
        match fetch(http, Method::POST, mcp_url, headers, ping).await {
            Ok(Answer {
                status: StatusCode::UNAUTHORIZED,
                headers,
                ..
            }) => {
                let challenge = headers
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find_map(|v| {
                        v.strip_prefix("Bearer")
                            .or_else(|| v.strip_prefix("bearer"))
                    })
                    .unwrap_or("");
                (
                    parameter(challenge, "resource_metadata"),
                    parameter(challenge, "scope"),
                )
            }
            _ => (None, None),
        };
    let mut candidates: Vec<String> = Vec::new();
    if let Some(url) = challenge_metadata {
        candidates.push(url);
    } else {
        let path = mcp_url.path().trim_end_matches('/');
        if !path.is_empty() {
            candidates.push(format!(
                "{origin}/.well-known/oauth-protected-resource{path}"
            ));
        }
        candidates.push(format!("{origin}/.well-known/oauth-protected-resource"));
    }
    let mut resource = None;
    for candidate in &candidates {
        if let Some(doc) = document(http, candidate).await? {
            resource = Some((candidate.clone(), doc));
            break;
        }
    }
    let Some((resource_url, resource)) = resource else {
        return Err(OAuthError::NoResourceMetadata {
            url: mcp_url.to_string(),
        });
    };
    let issuer = resource
        .get("authorization_servers")
        .and_then(Value::as_array)
        .and_then(|servers| servers.first())
        .and_then(Value::as_str)
        .ok_or_else(|| OAuthError::BadDocument {
            url: resource_url.clone(),
            why: "no authorization_servers".into(),
        })?
        .trim_end_matches('/')
        .to_string();
    let scope = client.scope.clone().or(challenge_scope).or_else(|| {
        let supported = resource.get("scopes_supported")?.as_array()?;
        let names: Vec<&str> = supported.iter().filter_map(Value::as_str).collect();
        (!names.is_empty()).then(|| names.join(" "))
    });
    let tried = server_metadata_urls(&issuer)?;
    for url in &tried {
        let Some(doc) = document(http, url).await? else {
            continue;
        };
        let token_url = doc
            .get("token_endpoint")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<Uri>().ok())
            .ok_or_else(|| OAuthError::BadDocument {
                url: url.clone(),
                why: "no usable token_endpoint".into(),
            })?;
        let methods: Vec<&str> = doc
            .get("token_endpoint_auth_methods_supported")
            .and_then(Value::as_array)
            .map(|m| m.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let secret_in_body = !methods.is_empty()
            && !methods.contains(&"client_secret_basic")
            && methods.contains(&"client_secret_post");
        return Ok(Endpoint {
            token_url,
            secret_in_body,
            scope,
        });
    }
    Err(OAuthError::NoServerMetadata {
        issuer: quote(&issuer, 200),
        tried: tried.join(", "),
    })
}

/// The authorization server's metadata URLs, in the order the
/// specification gives (RFC 8414, then OpenID Connect Discovery).
fn server_metadata_urls(issuer: &str) -> Result<Vec<String>, OAuthError> {
    let uri: Uri = issuer.parse().map_err(|_| OAuthError::BadDocument {
        url: quote(issuer, 200),
        why: "the authorization server is not a URL".into(),
    })?;
    let origin = origin(&uri);
    let path = uri.path().trim_end_matches('/');
    Ok(if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    })
}

/// A parameter of a `WWW-Authenticate` challenge: `name="value"` or
/// `name=value`.
fn parameter(challenge: &str, name: &str) -> Option<String> {
    let mut rest = challenge;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().last();
        let after = &rest[at + name.len()..];
        rest = after;
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let Some(value) = after.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        return Some(match value.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap_or("").to_string(),
            None => value.split([',', ' ']).next().unwrap_or("").to_string(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_parameters_are_read_quoted_or_not() {
        let challenge = r#" resource_metadata="https://a.example/.well-known/oauth-protected-resource", scope="files:read mcp", error=invalid_token"#;
        assert_eq!(
            parameter(challenge, "resource_metadata").as_deref(),
            Some("https://a.example/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            parameter(challenge, "scope").as_deref(),
            Some("files:read mcp")
        );
        assert_eq!(
            parameter(challenge, "error").as_deref(),
            Some("invalid_token")
        );
        assert_eq!(parameter(challenge, "realm"), None);
        // A name inside another's is not it.
        assert_eq!(parameter(r#"xscope="a""#, "scope"), None);
    }

    #[test]
    fn metadata_urls_follow_the_specifications_order() {
        assert_eq!(
            server_metadata_urls("https://auth.example.com").unwrap(),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            server_metadata_urls("https://auth.example.com/tenant1").unwrap(),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
    }
}
