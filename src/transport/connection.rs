//! One connection to the server under test, whatever carries it: a stdio
//! server mcpstorm spawned, or an HTTP endpoint (with, when mcpstorm knows
//! it, the process behind it — spawned with `--server-cmd` or named with `--pid`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::Uri;
use serde_json::Value;

use super::correlator::{Correlator, Reply};
use super::http::HttpSetupError;
use super::http_endpoint;
use super::process::{ExitInfo, ServerCommand, ServerProcess, SpawnError};
use super::stdio::{StderrTail, StdioConnection, StdioOptions};
use super::{RawReply, RequestError, TransportKind};
use crate::probe::procfs;
use crate::protocol::jsonrpc::{Params, RawFrame};
use crate::protocol::param_headers::ParamHeaders;
use crate::protocol::untrusted::quote;

/// Which server to test and how to reach it.
#[derive(Debug, Clone)]
pub enum Target {
    /// Spawn this command and speak over its stdin/stdout.
    Stdio(ServerCommand),
    Http(HttpTarget),
}

/// A Streamable HTTP endpoint, and the process behind it when known.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// `None`: the first `http://` address the started server prints.
    pub url: Option<Uri>,
    /// The user of a `user:password@` given with the URL (sent as Basic
    /// auth among `headers`): shown as `user:<redacted>@`.
    pub user: Option<String>,
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// A server mcpstorm starts (and stops) itself.
    pub server: Option<ServerCommand>,
    /// An already running server process to measure.
    pub pid: Option<u32>,
    /// End the session with `DELETE` when the run ends.
    pub end_session: bool,
    /// How an `https://` endpoint is reached (shared: the target is cloned
    /// for each restart and sibling).
    pub tls: std::sync::Arc<super::TlsOptions>,
    /// Speak the deprecated HTTP+SSE transport (2024-11-05): `url` is the
    /// SSE endpoint.
    pub legacy_sse: bool,
    /// OAuth client credentials: a token fetched before the run and kept
    /// fresh (Streamable HTTP).
    pub oauth: Option<std::sync::Arc<super::OAuthClient>>,
    /// Follow the endpoint's 307 and 308 redirects before the run.
    pub follow_redirects: bool,
    /// Speak HTTP/2 (Streamable HTTP; over TLS when the server chooses it).
    pub http2: bool,
}

impl Target {
    /// The values given as secrets (environment values of a server it
    /// starts, header values and the credential after an auth scheme's
    /// name), hidden wherever mcpstorm shows what it read
    /// from outside (a process's command line).
    pub fn secrets(&self) -> Vec<String> {
        let command = match self {
            Target::Stdio(command) => Some(command),
            Target::Http(http) => http.server.as_ref(),
        };
        let mut secrets: Vec<String> = command
            .iter()
            .flat_map(|c| c.env.iter().map(|(_, value)| value.clone()))
            .collect();
        if let Target::Http(http) = self {
            secrets.extend(http.oauth.iter().map(|o| o.client_secret.clone()));
            for value in http.headers.iter().filter_map(|(_, v)| v.to_str().ok()) {
                // `Bearer TOKEN`: the token alone is what a command line holds.
                if let Some((_scheme, credential)) = value.split_once(' ') {
                    secrets.push(credential.trim().to_string());
                }
                secrets.push(value.to_string());
            }
        }
        secrets
    }

    pub fn kind(&self) -> TransportKind {
        match self {
            Target::Stdio(_) => TransportKind::Stdio,
            Target::Http(http) if http.legacy_sse => TransportKind::Sse,
            Target::Http(_) => TransportKind::Http,
        }
    }

    /// Whether mcpstorm starts the server itself (and so can start it
    /// again: for cold starts, and after a crash); not for a bare URL.
    pub fn starts_server(&self) -> bool {
        match self {
            Target::Stdio(_) => true,
            Target::Http(http) => http.server.is_some(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Stdio(command) => write!(f, "stdio: {command}"),
            Target::Http(http) => {
                match (&http.url, &http.user) {
                    (Some(url), Some(user)) => {
                        let text = url.to_string();
                        let (scheme, rest) = text.split_once("://").unwrap_or(("http", &text));
                        write!(f, "http: {scheme}://{user}:<redacted>@{rest}")?
                    }
                    (Some(url), None) => write!(f, "http: {url}")?,
                    (None, _) => f.write_str("http: the address the server prints")?,
                }
                match (&http.server, http.pid) {
                    (Some(command), _) => write!(f, " (server: {command})"),
                    (None, Some(pid)) => write!(f, " (server pid {pid})"),
                    (None, None) => Ok(()),
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    pub max_message_bytes: usize,
    /// How long a started HTTP server gets to accept connections.
    pub startup_timeout: Duration,
    /// Over HTTP, check that the process listening at the URL is in the
    /// process tree measured (a scan of /proc: left out of timed cold starts,
    /// whose first, untimed start has checked it).
    pub check_listener: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error(transparent)]
    Http(#[from] HttpSetupError),
    #[error(transparent)]
    Tls(#[from] super::tls::TlsSetupError),
    #[error(transparent)]
    Sse(super::legacy_sse::OpenError),
    #[error(transparent)]
    OAuth(#[from] super::oauth::OAuthError),
    #[error(transparent)]
    Redirect(#[from] super::redirect::RedirectError),
    #[error(
        "{variable} is set, and mcpstorm does not go through proxies: it would reach \
         {host} directly, around the proxy (a proxy between would be measured as the \
         server). Unset {variable} for this run, or add {host} to NO_PROXY"
    )]
    Proxied { variable: String, host: String },
    #[error("the HTTP server exited before accepting connections ({exit}){}", output_note(.output_tail))]
    ServerExited {
        exit: ExitInfo,
        output_tail: Vec<String>,
    },
    #[error("{what} within {waited:?}{}", output_note(.output_tail))]
    NotReady {
        what: String,
        waited: Duration,
        output_tail: Vec<String>,
    },
    #[error("no process {0} to measure (--pid)")]
    NoSuchPid(u32),
    #[error(
        "something already accepts connections at {address} ({}), before the server was \
         started: it would answer the calls, and the new server's start-up would be measured \
         as if it were serving them. Stop it (an orphan of an earlier run?) or give the new \
         server another port",
        holders_shown(.holders)
    )]
    PortTaken { address: String, holders: Vec<u32> },
    #[error(
        "the calls to {address} would be answered by {}, which is not in the process tree \
         measured (pid {root} and its descendants): its figures would not be the server's. \
         Stop the other process, or measure the right one: --url with --pid PID",
        holders_shown(.outside)
    )]
    NotInTree {
        address: String,
        root: u32,
        outside: Vec<u32>,
    },
    #[error("an HTTP target needs --url, or --server-cmd for a server that prints its address")]
    NoUrl,
    #[error("mcpstorm did not start this server (no --server-cmd), so it cannot start it again")]
    NotRestartable,
}

fn output_note(tail: &[String]) -> String {
    if tail.is_empty() {
        "; the server printed nothing".to_string()
    } else {
        format!("; its output ends with:\n    {}", tail.join("\n    "))
    }
}

/// Processes named by pid and short name (never their command lines, which
/// may hold secrets): `pid 4242 (node)`.
pub(super) fn holders_shown(pids: &[u32]) -> String {
    if pids.is_empty() {
        return "a process mcpstorm cannot see (another user's, or in another namespace)"
            .to_string();
    }
    pids.iter()
        .take(8)
        .map(|&pid| match procfs::read_stat(pid) {
            Some(stat) => format!("pid {pid} ({})", quote(&stat.name, 32)),
            None => format!("pid {pid}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Longest wait, once a server has exited, for its last output to be read
/// (a child still holding the pipe would hold it open for ever).
pub(super) const LAST_WORDS_WAIT: Duration = Duration::from_millis(500);

/// What every transport does. A [`Connection`] holds one; adding a
/// transport is a file implementing this, a [`Target`] variant and its arm
/// in [`Connection::open`].
pub(crate) trait Transport: Send + Sync {
    fn kind(&self) -> TransportKind;

    fn request<'a>(
        &'a self,
        method: &'a str,
        params: Option<&'a dyn Params>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Reply, RequestError>>;

    /// Send a raw frame built around a fresh id (a robustness probe).
    fn probe<'a>(
        &'a self,
        build: Box<dyn FnOnce(u64) -> RawFrame + Send + 'a>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<RawReply, RequestError>>;

    fn notify<'a>(&'a self, method: &'a str, params: Option<&'a Value>) -> BoxFuture<'a, ()>;

    /// The URL the calls go to, to show (HTTP).
    fn endpoint(&self) -> Option<String> {
        None
    }

    fn correlator(&self) -> Arc<Correlator>;

    /// The server's output as mcpstorm reads it (empty when it did not start it).
    fn output(&self) -> Arc<StderrTail>;

    /// The process whose tree is measured, when known.
    fn pid(&self) -> Option<u32>;

    /// The process mcpstorm started, if any.
    fn process(&self) -> Option<&ServerProcess>;

    /// True once the server is known to be gone.
    fn is_closed(&self) -> bool;

    /// Resolves when the server is gone; never when that cannot be known.
    fn wait_closed(&self) -> BoxFuture<'_, ()>;

    /// Whether a failed call can come before the server's exit shows (a
    /// refused HTTP connection): the exit is then given a moment to show.
    fn exit_shows_late(&self) -> bool {
        false
    }

    /// End the connection and stop what mcpstorm started.
    fn close(&self, grace: Duration) -> BoxFuture<'_, CloseReport>;

    /// Whether mcpstorm can start this server again (after a crash).
    fn can_restart(&self) -> bool;

    /// Another client of the same server, measuring and stopping nothing,
    /// when sessions share a server (session churn).
    fn sibling(&self) -> Option<Connection> {
        None
    }

    /// Whether the server names sessions by an id the transport carries
    /// (Streamable HTTP's `Mcp-Session-Id`): `initialize` opens one, and a
    /// lost one must be opened again.
    fn carries_session_ids(&self) -> bool {
        false
    }

    /// A session id is held now.
    fn has_session(&self) -> bool {
        false
    }

    /// Drop the session without ending it (session churn's "abandon").
    fn abandon_session(&self) {}

    /// The revision negotiated, for transports that repeat it on every
    /// message (HTTP's `MCP-Protocol-Version`).
    fn set_protocol_version(&self, _version: &str) {}

    /// Whether a call's params are mirrored into headers, so that tools'
    /// declared `Mcp-Param-*` headers must be learnt (HTTP, stateless era).
    fn mirrors_params_in_headers(&self) -> bool {
        false
    }

    /// Tools' declared `Mcp-Param-*` headers.
    fn set_param_headers(&self, _headers: ParamHeaders) {}

    /// What opening the connection met that the report should say
    /// (redirects followed).
    fn setup_notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One connection to the server under test, whatever carries it.
pub struct Connection {
    transport: Box<dyn Transport>,
}

/// How the connection ended.
#[derive(Debug, Clone, Default)]
pub struct CloseReport {
    /// The exit of the process mcpstorm started (none for `--pid` or a bare URL).
    pub exit: Option<ExitInfo>,
    /// It did not exit when asked and had to be killed.
    pub forced: bool,
    /// HTTP: the answer to `DELETE` (None: no session, or not sent).
    pub session_end: Option<http::StatusCode>,
}

impl Connection {
    pub(super) fn new(transport: impl Transport + 'static) -> Connection {
        Connection {
            transport: Box::new(transport),
        }
    }

    pub async fn open(target: &Target, options: ConnectOptions) -> Result<Self, ConnectError> {
        Connection::open_sharing(target, options, Arc::default(), Arc::default()).await
    }

    /// Open the target again after this connection's server crashed: a new
    /// server process, with the wire counters and output tail carried on.
    pub async fn reopen(
        &self,
        target: &Target,
        options: ConnectOptions,
    ) -> Result<Self, ConnectError> {
        if !self.transport.can_restart() {
            return Err(ConnectError::NotRestartable);
        }
        Connection::open_sharing(target, options, self.correlator(), self.output()).await
    }

    async fn open_sharing(
        target: &Target,
        options: ConnectOptions,
        correlator: Arc<Correlator>,
        output: Arc<StderrTail>,
    ) -> Result<Self, ConnectError> {
        match target {
            Target::Stdio(command) => {
                let stdio = StdioOptions {
                    max_message_bytes: options.max_message_bytes,
                };
                let stdio = StdioConnection::spawn_sharing(command, stdio, correlator, output)?;
                Ok(Connection::new(stdio))
            }
            Target::Http(target) => http_endpoint::open(target, options, correlator, output).await,
        }
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<&dyn Params>,
        timeout: Duration,
    ) -> Result<Reply, RequestError> {
        self.transport.request(method, params, timeout).await
    }

    /// Send a raw frame built around a fresh id (a robustness probe).
    pub async fn probe(
        &self,
        build: impl FnOnce(u64) -> RawFrame + Send,
        timeout: Duration,
    ) -> Result<RawReply, RequestError> {
        self.transport.probe(Box::new(build), timeout).await
    }

    pub async fn notify(&self, method: &str, params: Option<&Value>) {
        self.transport.notify(method, params).await
    }

    /// Over HTTP, the URL the calls go to, to show: its query (it may carry a
    /// token) as `?…`.
    pub fn endpoint(&self) -> Option<String> {
        self.transport.endpoint()
    }

    pub fn kind(&self) -> TransportKind {
        self.transport.kind()
    }

    pub fn correlator(&self) -> Arc<Correlator> {
        self.transport.correlator()
    }

    /// The server's output tail: stderr over stdio; stdout and stderr of a
    /// started HTTP server; empty when mcpstorm did not start it.
    pub fn output(&self) -> Arc<StderrTail> {
        self.transport.output()
    }

    pub fn output_tail(&self, n: usize) -> Vec<String> {
        self.output().last(n)
    }

    /// The process whose tree is measured, when known.
    pub fn pid(&self) -> Option<u32> {
        self.transport.pid()
    }

    /// The process mcpstorm started, if any.
    pub fn process(&self) -> Option<&ServerProcess> {
        self.transport.process()
    }

    /// True once the server is gone: its stdout closed (stdio), or its
    /// process exited (HTTP, when the process is known).
    pub fn is_closed(&self) -> bool {
        self.transport.is_closed()
    }

    /// Whether the server is gone, after a call failed on the transport.
    /// An HTTP server's refused connection comes before its exit is seen:
    /// the exit gets up to `settle` to show, or workers fire call after call
    /// at the dead port (50 in a millisecond, tripping the abort rule) while
    /// a restart is under way.
    pub async fn gone_after_transport_error(&self, settle: Duration) -> bool {
        if self.is_closed() {
            return true;
        }
        self.transport.exit_shows_late()
            && tokio::time::timeout(settle, self.wait_closed())
                .await
                .is_ok()
    }

    /// Resolves when the server is gone; never, for a bare URL.
    pub async fn wait_closed(&self) {
        self.transport.wait_closed().await
    }

    /// End the connection: over stdio close stdin and stop the process tree;
    /// over HTTP end the session with `DELETE` (when `end_session`), then
    /// stop the server if mcpstorm started it.
    pub async fn close(&self, grace: Duration) -> CloseReport {
        self.transport.close(grace).await
    }

    /// Another client of the same HTTP endpoint, with its own connection pool
    /// and session, measuring nothing and stopping nothing (session churn).
    /// `None` over stdio, where a new session is a new server process.
    pub fn sibling(&self) -> Option<Connection> {
        self.transport.sibling()
    }

    /// Whether the server names sessions by an id the transport carries.
    pub fn carries_session_ids(&self) -> bool {
        self.transport.carries_session_ids()
    }

    /// A session id is held now.
    pub fn has_session(&self) -> bool {
        self.transport.has_session()
    }

    /// Abandon an HTTP session: drop it without `DELETE` (session churn).
    pub fn abandon_session(&self) {
        self.transport.abandon_session()
    }

    /// The revision negotiated (HTTP repeats it in a header).
    pub fn set_protocol_version(&self, version: &str) {
        self.transport.set_protocol_version(version)
    }

    /// Whether a call's params are mirrored into headers (HTTP).
    pub fn mirrors_params_in_headers(&self) -> bool {
        self.transport.mirrors_params_in_headers()
    }

    /// Tools' declared `Mcp-Param-*` headers (HTTP, stateless era).
    pub fn set_param_headers(&self, headers: ParamHeaders) {
        self.transport.set_param_headers(headers)
    }

    /// What opening the connection met that the report should say.
    pub fn setup_notes(&self) -> Vec<String> {
        self.transport.setup_notes()
    }
}
