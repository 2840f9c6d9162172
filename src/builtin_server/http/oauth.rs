//! `serve --http ADDR --oauth-client ID:SECRET`: the built-in target as an
//! OAuth-protected MCP server with its own small authorization server, for
//! the tests of mcpstorm's client-credentials flow. It publishes what the
//! specification asks (RFC 9728 protected-resource metadata, RFC 8414
//! authorization-server metadata), issues tokens at `/token` for the
//! `client_credentials` grant, and answers an MCP request without a valid
//! token with 401 and `WWW-Authenticate: Bearer resource_metadata=…`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, Response, StatusCode};
use serde_json::json;

use super::{Reply, status_only, whole};

/// Where the protected-resource metadata of the MCP endpoint is served.
pub const RESOURCE_METADATA: &str = "/.well-known/oauth-protected-resource/mcp";
const RESOURCE_METADATA_ROOT: &str = "/.well-known/oauth-protected-resource";
const SERVER_METADATA: &str = "/.well-known/oauth-authorization-server";
const TOKEN_PATH: &str = "/token";
/// Tokens remembered at most: the oldest are forgotten beyond.
const TOKENS_KEPT: usize = 10_000;

/// The authorization server's settings and the tokens it issued.
pub(super) struct OAuth {
    client_id: String,
    secret: String,
    lifetime: Duration,
    /// A token is refused after this many uses, although unexpired (as a
    /// revoked one is).
    revoke_after: Option<u64>,
    /// `scheme://host:port` of this server.
    origin: String,
    /// The path protected: the MCP endpoint (or, over HTTP+SSE, its stream).
    resource_path: &'static str,
    tokens: Mutex<HashMap<String, Issued>>,
}

struct Issued {
    expires: Instant,
    uses: u64,
}

impl OAuth {
    /// `client` is `ID:SECRET`.
    pub(super) fn new(
        client: &str,
        lifetime_s: f64,
        revoke_after: Option<u64>,
        (origin, resource_path): (String, &'static str),
    ) -> Option<OAuth> {
        let (client_id, secret) = client.split_once(':')?;
        Some(OAuth {
            client_id: client_id.to_string(),
            secret: secret.to_string(),
            lifetime: Duration::from_secs_f64(lifetime_s.clamp(0.05, 86_400.0)),
            revoke_after,
            origin,
            resource_path,
            tokens: Mutex::default(),
        })
    }

    /// The answer to a request for one of the authorization documents or
    /// the token endpoint; `None` for any other path.
    pub(super) fn serve(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<Reply> {
        Some(match (method, path) {
            (&Method::GET, RESOURCE_METADATA | RESOURCE_METADATA_ROOT) => json_reply(
                StatusCode::OK,
                json!({
                    "resource": format!("{}{}", self.origin, self.resource_path),
                    "authorization_servers": [self.origin],
                    "scopes_supported": ["mcp"],
                    "bearer_methods_supported": ["header"],
                }),
            ),
            (&Method::GET, SERVER_METADATA) => json_reply(
                StatusCode::OK,
                json!({
                    "issuer": self.origin,
                    "token_endpoint": format!("{}{TOKEN_PATH}", self.origin),
                    "grant_types_supported": ["client_credentials"],
                    "token_endpoint_auth_methods_supported":
                        ["client_secret_basic", "client_secret_post"],
                    "scopes_supported": ["mcp"],
                }),
            ),
            (&Method::POST, TOKEN_PATH) => self.token(headers, body),
            (_, RESOURCE_METADATA | RESOURCE_METADATA_ROOT | SERVER_METADATA | TOKEN_PATH) => {
                status_only(StatusCode::METHOD_NOT_ALLOWED)
            }
            _ => return None,
        })
    }

    /// The token endpoint: the client-credentials grant, the client
    /// authenticated by HTTP Basic or in the body.
    fn token(&self, headers: &HeaderMap, body: &[u8]) -> Reply {
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
        }
        let given = basic_credentials(headers).or_else(|| {
            Some((
                form.get("client_id")?.clone(),
                form.get("client_secret")?.clone(),
            ))
        });
        if given != Some((self.client_id.clone(), self.secret.clone())) {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        if let Ok(mut tokens) = self.tokens.lock() {
            let now = Instant::now();
            tokens.retain(|_, issued| issued.expires > now);
            if tokens.len() >= TOKENS_KEPT {
                tokens.clear();
            }
            tokens.insert(
                token.clone(),
                Issued {
                    expires: now + self.lifetime,
                    uses: 0,
                },
            );
        }
        json_reply(
            StatusCode::OK,
            json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.lifetime.as_secs_f64(),
            }),
        )
    }

    /// An MCP request's token: `None` when it is valid, else the 401.
    pub(super) fn refuse(&self, headers: &HeaderMap) -> Option<Reply> {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let valid = presented.is_some_and(|token| {
            let Ok(mut tokens) = self.tokens.lock() else {
                return false;
            };
            let Some(issued) = tokens.get_mut(token) else {
                return false;
            };
            issued.uses += 1;
            issued.expires > Instant::now() && self.revoke_after.is_none_or(|n| issued.uses <= n)
        });
        if valid {
            return None;
        }
        let mut challenge = format!(
            "Bearer resource_metadata=\"{}{RESOURCE_METADATA}\", scope=\"mcp\"",
            self.origin
        );
        if presented.is_some() {
            challenge.push_str(", error=\"invalid_token\"");
        }
        let mut reply = status_only(StatusCode::UNAUTHORIZED);
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            reply.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        Some(reply)
    }
}

/// `Authorization: Basic base64(id:secret)`, each part form-urlencoded
/// (RFC 6749 2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |part: &str| -> String {
        form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

fn json_reply(status: StatusCode, body: serde_json::Value) -> Reply {
    let mut reply = Response::new(whole(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

fn oauth_error(status: StatusCode, error: &str) -> Reply {
    json_reply(status, json!({ "error": error }))
}
