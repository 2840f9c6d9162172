//! Finding the revision to speak with a server: the `server/discover`
//! probe of the stateless era, the `initialize` handshake of the era
//! before it, and the fall-back from one to the other, within one budget.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::session::{ProtocolChoice, SetupError};
use crate::protocol::jsonrpc::{Params, ResponseBody};
use crate::protocol::meta::dress;
use crate::protocol::untrusted::{QUOTE_CHARS, quote, quote_fmt};
use crate::protocol::{Era, ProtocolVersion, ServerInfo};
use crate::transport::{Connection, Reply, RequestError, TransportKind};

/// Stderr lines quoted in setup errors.
const STDERR_QUOTED: usize = 8;

/// What `server/discover` told us.
enum Discovery {
    /// A modern server, and the newest revision both sides speak.
    Modern {
        version: ProtocolVersion,
        server: ServerInfo,
    },
    /// No positive sign of a modern server (an error, or no answer).
    Legacy,
}

/// Find the revision to speak, as `choice` says: it and the server's identity.
pub(super) async fn negotiate(
    connection: &Connection,
    choice: ProtocolChoice,
    timeout: Duration,
) -> Result<(ProtocolVersion, ServerInfo), SetupError> {
    let (version, server) = match choice {
        ProtocolChoice::Auto => negotiate_auto(connection, timeout).await?,
        ProtocolChoice::Force(version) if version.era() == Era::Stateless => {
            match discover(connection, version, timeout).await? {
                Discovery::Modern {
                    version: got,
                    server,
                } if got == version => (got, server),
                Discovery::Modern { version: got, .. } => {
                    return Err(SetupError::UnsupportedVersion {
                        offered: version,
                        got: got.to_string(),
                    });
                }
                Discovery::Legacy => return Err(SetupError::NotModern(version)),
            }
        }
        ProtocolChoice::Force(version) => {
            let (got, server) = initialize(connection, version, timeout).await?;
            // `--protocol X` means exactly X: another revision, though one
            // mcpstorm speaks, is not what was asked for.
            if got != version {
                return Err(SetupError::UnsupportedVersion {
                    offered: version,
                    got: got.to_string(),
                });
            }
            (got, server)
        }
    };
    Ok((version, server))
}

/// How long the `server/discover` probe is waited for before a stdio
/// server is also asked `initialize`: a handshake-era server may ignore the
/// probe, and must not cost a whole timeout at every start.
const PROBE_PATIENCE: Duration = Duration::from_millis(500);

/// The revision of a server nothing is known of, within `timeout` for the
/// whole handshake: the probe first; a modern server answers it, a
/// handshake-era one refuses it (then `initialize`) or ignores it. Over
/// stdio, a probe unanswered after [`PROBE_PATIENCE`] is followed by
/// `initialize` at once: the server answers in order, so a modern one still
/// answers the probe first, however long it takes to start, and one that
/// ignores the probe answers `initialize`. Over HTTP (where `initialize`
/// would open a session) the probe gets half the time, `initialize` the rest.
async fn negotiate_auto(
    connection: &Connection,
    timeout: Duration,
) -> Result<(ProtocolVersion, ServerInfo), SetupError> {
    let started = Instant::now();
    let both_unanswered = |error: SetupError| match error {
        SetupError::Timeout { stderr_tail, .. } => SetupError::Timeout {
            method: "server/discover, then initialize,".into(),
            timeout,
            stderr_tail,
        },
        other => other,
    };
    if connection.kind() == TransportKind::Sse {
        // The transport of 2024-11-05 carries the handshake era alone.
        return initialize(connection, ProtocolVersion::LATEST_HANDSHAKE, timeout).await;
    }
    if connection.carries_session_ids() {
        let probe_budget = timeout / 2;
        return match discover(connection, ProtocolVersion::LATEST, probe_budget).await? {
            Discovery::Modern { version, server } => Ok((version, server)),
            Discovery::Legacy => {
                let unanswered = started.elapsed() >= probe_budget;
                let left = timeout.saturating_sub(started.elapsed());
                initialize(connection, ProtocolVersion::LATEST_HANDSHAKE, left)
                    .await
                    .map_err(|e| if unanswered { both_unanswered(e) } else { e })
            }
        };
    }
    let probe = discover(connection, ProtocolVersion::LATEST, timeout);
    tokio::pin!(probe);
    let left = || timeout.saturating_sub(started.elapsed());
    tokio::select! {
        biased;
        discovered = &mut probe => {
            return match discovered? {
                Discovery::Modern { version, server } => Ok((version, server)),
                Discovery::Legacy => {
                    initialize(connection, ProtocolVersion::LATEST_HANDSHAKE, left()).await
                }
            };
        }
        _ = tokio::time::sleep(PROBE_PATIENCE) => {}
    }
    // No answer yet: ask `initialize` too, and take the first answer that
    // says what the server is. (The other request's answer, if it comes, is
    // delivered to nobody and counted nowhere.)
    let handshake = initialize(connection, ProtocolVersion::LATEST_HANDSHAKE, left());
    tokio::pin!(handshake);
    tokio::select! {
        biased;
        discovered = &mut probe => match discovered {
            Ok(Discovery::Modern { version, server }) => Ok((version, server)),
            // It refused the probe (or gave no sign of the stateless era):
            // the handshake already under way decides.
            Ok(Discovery::Legacy) => handshake.await.map_err(both_unanswered),
            Err(error) => Err(error),
        },
        initialized = &mut handshake => match initialized {
            Ok(answer) => Ok(answer),
            // `initialize` failed; the probe may still say more.
            Err(SetupError::Timeout { .. }) => match probe.await? {
                Discovery::Modern { version, server } => Ok((version, server)),
                Discovery::Legacy => Err(both_unanswered(SetupError::Timeout {
                    method: String::new(),
                    timeout,
                    stderr_tail: connection.output_tail(STDERR_QUOTED),
                })),
            },
            Err(error) => Err(error),
        },
    }
}

/// The newest revision both sides speak, from the server's list.
fn newest_mutual(supported: &[Value]) -> Option<ProtocolVersion> {
    supported
        .iter()
        .filter_map(|v| v.as_str()?.parse::<ProtocolVersion>().ok())
        .filter(|v| v.era() == Era::Stateless)
        .max()
}

fn server_info(result: &Value, version: ProtocolVersion) -> ServerInfo {
    // Some servers put their identity in `_meta` rather than `serverInfo`.
    let info = result
        .get("serverInfo")
        .or_else(|| result.pointer("/_meta/io.modelcontextprotocol~1serverInfo"));
    let field = |name: &str| {
        info.and_then(|i| i.get(name))
            .and_then(Value::as_str)
            .map(|text| quote(text, SERVER_NAME_CHARS))
            .unwrap_or_default()
    };
    ServerInfo {
        name: field("name"),
        version: field("version"),
        protocol_version: version.to_string(),
    }
}

/// Turn a failed opening request into the setup error that explains it.
async fn setup_failure(connection: &Connection, failure: RequestError, method: &str) -> SetupError {
    match failure {
        RequestError::Timeout(timeout) => SetupError::Timeout {
            method: method.to_string(),
            timeout,
            stderr_tail: connection.output_tail(STDERR_QUOTED),
        },
        RequestError::Closed(_) => {
            let stderr_tail = settle_stderr(connection).await;
            let exit = match connection.process() {
                Some(process) => process.wait_exit(Duration::from_secs(2)).await,
                None => None,
            };
            SetupError::ServerExited {
                method: method.to_string(),
                exit: exit.unwrap_or_default(),
                stderr_tail,
            }
        }
        other @ (RequestError::Http(_)
        | RequestError::Status { .. }
        | RequestError::SessionExpired
        | RequestError::Protocol(_)
        | RequestError::LocalLimit(_)
        | RequestError::AuthRefused(_)) => SetupError::Unreachable {
            method: method.to_string(),
            detail: quote(&other.to_string(), QUOTE_CHARS),
            stderr_tail: settle_stderr(connection).await,
        },
    }
}

/// How many times `server/discover` is asked: once in the revision wanted,
/// and once more in the one the server names instead. A server that then
/// names yet another, or refuses the very revision it names, cannot be agreed
/// with: asking again would go on for ever.
const DISCOVER_ASKS: usize = 2;

/// Longest server name or version kept: the dashboard's header shows them.
const SERVER_NAME_CHARS: usize = 100;

/// Probe with `server/discover` at `first`.
async fn discover(
    connection: &Connection,
    first: ProtocolVersion,
    timeout: Duration,
) -> Result<Discovery, SetupError> {
    let mut asked = first;
    let mut asks = 1;
    loop {
        let (list, result, said) = match discover_once(connection, asked, timeout).await? {
            Some(offer) => offer,
            None => return Ok(Discovery::Legacy),
        };
        let Some(mutual) = newest_mutual(&list) else {
            // It answers discover but offers no modern revision we speak: treat
            // it as the handshake-era server it says it is.
            return Ok(Discovery::Legacy);
        };
        match result {
            Some(result) if mutual == asked => {
                return Ok(Discovery::Modern {
                    version: mutual,
                    server: server_info(&result, mutual),
                });
            }
            // The server named a revision other than the one we asked in: ask again in it.
            _ if mutual != asked && asks < DISCOVER_ASKS => {
                asked = mutual;
                asks += 1;
            }
            _ => return Err(SetupError::NoAgreement { asked, said }),
        }
    }
}

/// One `server/discover` in `version`: `None` for a server that shows no sign
/// of the stateless era, else the revisions it lists, its result (none when
/// it refused), and what it said, quoted for an error.
async fn discover_once(
    connection: &Connection,
    version: ProtocolVersion,
    timeout: Duration,
) -> Result<Option<(Vec<Value>, Option<Value>, String)>, SetupError> {
    let params = dress(version, None);
    let reply = connection
        .request(
            "server/discover",
            params.as_deref().map(|p| p as &dyn Params),
            timeout,
        )
        .await;
    let (supported, result, said) = match reply {
        Ok(Reply {
            body: ResponseBody::Result(result),
            ..
        }) => {
            // A result that cannot be read is no modern server's: fall back.
            let Ok(result) = result.value() else {
                return Ok(None);
            };
            let supported = result.get("supportedVersions").cloned();
            let said = format!(
                "supportedVersions {}",
                supported.clone().unwrap_or_default()
            );
            (supported, Some(result), said)
        }
        // An unsupported-version error lists what the server speaks: it is modern.
        Ok(Reply {
            body: ResponseBody::Error(error),
            ..
        }) => match error.data.as_ref().and_then(|d| d.get("supported")) {
            Some(list) => {
                let said = format!(
                    "JSON-RPC error {}: {} (supported: {list})",
                    error.code, error.message
                );
                (Some(list.clone()), None, said)
            }
            None => return Ok(None),
        },
        // An answer that cannot be read is no modern server's: fall back.
        Ok(Reply {
            body: ResponseBody::Unusable(_),
            ..
        }) => return Ok(None),
        // A legacy server may ignore a method it does not know, or (over HTTP)
        // refuse it with a status whose body is no modern JSON-RPC error.
        // That refusal is the specification's signal to fall back, not an
        // error of the server: it is not left in the HTTP error count.
        Err(RequestError::Status { .. }) => {
            connection.correlator().counters.excuse_http_error();
            return Ok(None);
        }
        Err(RequestError::Timeout(_) | RequestError::Http(_) | RequestError::Protocol(_))
            if connection.process().is_none_or(|p| p.exited().is_none()) =>
        {
            return Ok(None);
        }
        Err(closed) => return Err(setup_failure(connection, closed, "server/discover").await),
    };
    let list = supported
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default();
    Ok(Some((list, result, quote(&said, QUOTE_CHARS))))
}

/// The handshake: offer `offered`, accept the server's choice when mcpstorm
/// speaks it, then send `notifications/initialized`.
pub(super) async fn initialize(
    connection: &Connection,
    offered: ProtocolVersion,
    timeout: Duration,
) -> Result<(ProtocolVersion, ServerInfo), SetupError> {
    let params = json!({
        "protocolVersion": offered.as_str(),
        "capabilities": {},
        "clientInfo": {"name": "mcpstorm", "version": env!("CARGO_PKG_VERSION")},
    });
    let result = match connection
        .request("initialize", Some(&params as &dyn Params), timeout)
        .await
    {
        Ok(Reply {
            body: ResponseBody::Result(result),
            ..
        }) => result
            .value()
            .map_err(|e| SetupError::Malformed(e.to_string()))?,
        Ok(Reply {
            body: ResponseBody::Error(error),
            ..
        }) => {
            return Err(SetupError::Rejected {
                code: error.code,
                message: quote(&error.message, QUOTE_CHARS),
                stderr_tail: settle_stderr(connection).await,
            });
        }
        Ok(Reply {
            body: ResponseBody::Unusable(why),
            ..
        }) => return Err(SetupError::Malformed(why)),
        Err(failure) => return Err(setup_failure(connection, failure, "initialize").await),
    };
    let got = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            SetupError::Malformed(quote_fmt(
                format_args!("no protocolVersion in {result}"),
                QUOTE_CHARS,
            ))
        })?;
    let version = match got.parse::<ProtocolVersion>() {
        Ok(v) if v.era() == Era::Handshake => v,
        _ => {
            return Err(SetupError::UnsupportedVersion {
                offered,
                got: quote(got, QUOTE_CHARS),
            });
        }
    };
    connection.set_protocol_version(version.as_str());
    connection.notify("notifications/initialized", None).await;
    Ok((version, server_info(&result, version)))
}

/// The server may still be writing its last words when we notice the failure.
async fn settle_stderr(connection: &Connection) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    connection.output_tail(STDERR_QUOTED)
}
