//! One connection to the server under test, whatever carries it: a stdio
//! server mcpstorm spawned, or an HTTP endpoint (with, when mcpstorm knows
//! it, the process behind it — spawned with `--server-cmd` or named with `--pid`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Uri;
use serde_json::Value;
use tokio::process::ChildStdin;

use super::correlator::{Correlator, Reply};
use super::http::{HttpConnection, HttpOptions, HttpSetupError};
use super::process::{ExitInfo, ServerCommand, ServerProcess, SpawnError};
use super::stdio::{LineWatch, StderrTail, StdioConnection, StdioOptions, drain_output};
use super::{RawReply, RequestError, TransportKind};
use crate::probe::{listener, procfs};
use crate::protocol::jsonrpc::Params;
use crate::protocol::jsonrpc::RawFrame;
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
}

impl Target {
    pub fn kind(&self) -> TransportKind {
        match self {
            Target::Stdio(_) => TransportKind::Stdio,
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
fn holders_shown(pids: &[u32]) -> String {
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

/// Who answers at `url`: the processes holding the sockets listening there
/// must be in `root`'s tree. Unknowable (a remote host, a socket in another
/// network namespace) passes.
fn check_listener(url: &Uri, peer: SocketAddr, root: u32) -> Result<(), ConnectError> {
    let inodes = listener::listening_inodes(peer);
    if inodes.is_empty() {
        return Ok(());
    }
    let holders = listener::holders(&inodes);
    let tree = procfs::process_tree(root);
    let outside: Vec<u32> = holders
        .iter()
        .copied()
        .filter(|pid| !tree.contains(pid))
        .collect();
    let inside = holders.len() > outside.len();
    // Outside holders sharing the port (SO_REUSEPORT) would get some of the calls.
    if inside && outside.is_empty() {
        return Ok(());
    }
    Err(ConnectError::NotInTree {
        address: url.to_string(),
        root,
        outside,
    })
}

/// Longest wait, once a server has exited, for its last output to be read
/// (a child still holding the pipe would hold it open for ever).
const LAST_WORDS_WAIT: Duration = Duration::from_millis(500);

/// Output lines quoted in errors.
const OUTPUT_QUOTED: usize = 8;

/// The process behind an HTTP endpoint.
enum Host {
    /// Started by mcpstorm; its stdin is held open (some servers exit on EOF).
    Spawned {
        process: ServerProcess,
        _stdin: ChildStdin,
    },
    /// Named with `--pid`: measured, never stopped.
    Existing(u32),
    /// Not known: server-side figures are not measured.
    Unknown,
}

impl Host {
    /// The process whose tree is measured, when known.
    fn pid(&self) -> Option<u32> {
        match self {
            Host::Spawned { process, .. } => Some(process.pid()),
            Host::Existing(pid) => Some(*pid),
            Host::Unknown => None,
        }
    }
}

enum Kind {
    Stdio(StdioConnection),
    Http {
        http: HttpConnection,
        host: Host,
        output: Arc<StderrTail>,
        end_session: bool,
    },
}

pub struct Connection {
    kind: Kind,
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
        if let Kind::Http { host, .. } = &self.kind
            && !matches!(host, Host::Spawned { .. })
        {
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
                Ok(Connection {
                    kind: Kind::Stdio(stdio),
                })
            }
            Target::Http(target) => open_http(target, options, correlator, output).await,
        }
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<&dyn Params>,
        timeout: Duration,
    ) -> Result<Reply, RequestError> {
        match &self.kind {
            Kind::Stdio(stdio) => stdio.request(method, params, timeout).await,
            Kind::Http { http, .. } => http.request(method, params, timeout).await,
        }
    }

    /// Send a raw frame built around a fresh id (a robustness probe); see
    /// `StdioConnection::probe` and `HttpConnection::probe`.
    pub async fn probe(
        &self,
        build: impl FnOnce(u64) -> RawFrame,
        timeout: Duration,
    ) -> Result<RawReply, RequestError> {
        match &self.kind {
            Kind::Stdio(stdio) => stdio.probe(build, timeout).await,
            Kind::Http { http, .. } => http.probe(build, timeout).await,
        }
    }

    pub async fn notify(&self, method: &str, params: Option<&Value>) {
        match &self.kind {
            Kind::Stdio(stdio) => stdio.notify(method, params),
            Kind::Http { http, .. } => http.notify(method, params).await,
        }
    }

    pub fn http(&self) -> Option<&HttpConnection> {
        match &self.kind {
            Kind::Http { http, .. } => Some(http),
            Kind::Stdio(_) => None,
        }
    }

    /// Over HTTP, the URL the calls go to, to show: its query (it may carry a
    /// token) as `?…`.
    pub fn endpoint(&self) -> Option<String> {
        let url = self.http()?.url();
        let shown = format!(
            "http://{}{}",
            url.authority().map_or("", |a| a.as_str()),
            url.path()
        );
        Some(match url.query() {
            Some(_) => format!("{shown}?…"),
            None => shown,
        })
    }

    pub fn kind(&self) -> TransportKind {
        match &self.kind {
            Kind::Stdio(_) => TransportKind::Stdio,
            Kind::Http { .. } => TransportKind::Http,
        }
    }

    pub fn correlator(&self) -> Arc<Correlator> {
        match &self.kind {
            Kind::Stdio(stdio) => stdio.correlator(),
            Kind::Http { http, .. } => http.correlator(),
        }
    }

    /// The server's output tail: stderr over stdio; stdout and stderr of a
    /// started HTTP server; empty when mcpstorm did not start it.
    pub fn output(&self) -> Arc<StderrTail> {
        match &self.kind {
            Kind::Stdio(stdio) => stdio.stderr_handle(),
            Kind::Http { output, .. } => output.clone(),
        }
    }

    pub fn output_tail(&self, n: usize) -> Vec<String> {
        self.output().last(n)
    }

    /// The process whose tree is measured, when known.
    pub fn pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Stdio(stdio) => Some(stdio.pid()),
            Kind::Http { host, .. } => host.pid(),
        }
    }

    /// The process mcpstorm started, if any.
    pub fn process(&self) -> Option<&ServerProcess> {
        match &self.kind {
            Kind::Stdio(stdio) => Some(stdio.process()),
            Kind::Http {
                host: Host::Spawned { process, .. },
                ..
            } => Some(process),
            Kind::Http { .. } => None,
        }
    }

    /// True once the server is gone: its stdout closed (stdio), or its
    /// process exited (HTTP, when the process is known).
    pub fn is_closed(&self) -> bool {
        match &self.kind {
            Kind::Stdio(stdio) => stdio.is_closed(),
            Kind::Http { host, .. } => match host {
                Host::Spawned { process, .. } => process.exited().is_some(),
                Host::Existing(pid) => !procfs::is_alive(*pid),
                Host::Unknown => false,
            },
        }
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
        match &self.kind {
            Kind::Http {
                host: Host::Spawned { .. } | Host::Existing(_),
                ..
            } => tokio::time::timeout(settle, self.wait_closed())
                .await
                .is_ok(),
            _ => false,
        }
    }

    /// Resolves when the server is gone; never, for a bare URL.
    pub async fn wait_closed(&self) {
        match &self.kind {
            Kind::Stdio(stdio) => stdio.wait_closed().await,
            Kind::Http { host, .. } => match host {
                Host::Spawned { process, .. } => {
                    process.exited_at_last().await;
                }
                Host::Existing(pid) => {
                    while procfs::is_alive(*pid) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                Host::Unknown => std::future::pending().await,
            },
        }
    }

    /// End the connection: over stdio close stdin and stop the process tree;
    /// over HTTP end the session with `DELETE` (when `end_session`), then
    /// stop the server if mcpstorm started it.
    pub async fn close(&self, grace: Duration) -> CloseReport {
        match &self.kind {
            Kind::Stdio(stdio) => {
                let stopped = stdio.close(grace).await;
                self.output().wait_drained(LAST_WORDS_WAIT).await;
                CloseReport {
                    exit: Some(stopped.exit),
                    // Signalled by mcpstorm: not a server that died of a
                    // signal (a crash) before it was asked.
                    forced: stopped.sent.is_some(),
                    session_end: None,
                }
            }
            Kind::Http {
                http,
                host,
                end_session,
                ..
            } => {
                http.wait_for_cancellations().await;
                let alive = !self.is_closed();
                let session_end = match (*end_session && alive, http.has_session()) {
                    (true, true) => http.end_session().await,
                    _ => None,
                };
                let stopped = match host {
                    Host::Spawned { process, .. } => {
                        let stopped = process.terminate(grace).await;
                        self.output().wait_drained(LAST_WORDS_WAIT).await;
                        Some(stopped)
                    }
                    _ => None,
                };
                CloseReport {
                    exit: stopped.map(|s| s.exit),
                    forced: stopped.is_some_and(|s| s.sent == Some(libc::SIGKILL)),
                    session_end,
                }
            }
        }
    }

    /// Another client of the same HTTP endpoint, with its own connection pool
    /// and session, measuring nothing and stopping nothing (session churn).
    /// `None` over stdio, where a new session is a new server process.
    pub fn sibling(&self) -> Option<Connection> {
        let Kind::Http {
            http, end_session, ..
        } = &self.kind
        else {
            return None;
        };
        Some(Connection {
            kind: Kind::Http {
                http: http.sibling(),
                host: Host::Unknown,
                output: Arc::new(StderrTail::default()),
                end_session: *end_session,
            },
        })
    }

    /// Abandon an HTTP session: drop it without `DELETE` (session churn).
    pub fn abandon_session(&self) {
        if let Some(http) = self.http() {
            http.forget_session();
        }
    }
}

async fn open_http(
    target: &HttpTarget,
    options: ConnectOptions,
    correlator: Arc<Correlator>,
    output: Arc<StderrTail>,
) -> Result<Connection, ConnectError> {
    // The address the server answered at while it was started, if it was:
    // the listener check uses it rather than connect again.
    let (host, url, answered_at) = match (&target.server, target.pid) {
        (Some(command), _) => {
            if let Some(url) = &target.url
                && let Some(peer) = peer_address(url).await
            {
                let inodes = listener::listening_inodes(peer);
                return Err(ConnectError::PortTaken {
                    address: url.to_string(),
                    holders: listener::holders(&inodes),
                });
            }
            let (process, pipes) = ServerProcess::spawn(command)?;
            let url = start_http_server(
                &process,
                pipes.stdout,
                pipes.stderr,
                &output,
                target,
                options,
            )
            .await;
            let host = Host::Spawned {
                process,
                _stdin: pipes.stdin,
            };
            match url {
                Ok((url, peer)) => (host, url, Some(peer)),
                Err(error) => {
                    if let Host::Spawned { process, .. } = &host {
                        process.terminate(Duration::from_millis(500)).await;
                    }
                    return Err(error);
                }
            }
        }
        (None, pid) => {
            let host = match pid {
                Some(pid) if procfs::is_alive(pid) => Host::Existing(pid),
                Some(pid) => return Err(ConnectError::NoSuchPid(pid)),
                None => Host::Unknown,
            };
            let url = target.url.clone().ok_or(ConnectError::NoUrl)?;
            (host, url, None)
        }
    };
    if let Some(root) = host.pid()
        && options.check_listener
        && let Some(peer) = match answered_at {
            Some(peer) => Some(peer),
            None => peer_address(&url).await,
        }
        && let Err(error) = check_listener(&url, peer, root)
    {
        if let Host::Spawned { process, .. } = &host {
            process.terminate(Duration::from_millis(500)).await;
        }
        return Err(error);
    }
    let options = HttpOptions {
        url,
        headers: target.headers.clone(),
        max_message_bytes: options.max_message_bytes,
    };
    let http = HttpConnection::new_sharing(&options, correlator);
    Ok(Connection {
        kind: Kind::Http {
            http,
            host,
            output,
            end_session: target.end_session,
        },
    })
}

/// Drain a started HTTP server's output, learn its URL (given, or the first
/// `http://` address it prints) and wait until it accepts connections: the
/// URL, and the address the connection reached.
async fn start_http_server(
    process: &ServerProcess,
    stdout: tokio::process::ChildStdout,
    stderr: tokio::process::ChildStderr,
    output: &Arc<StderrTail>,
    target: &HttpTarget,
    options: ConnectOptions,
) -> Result<(Uri, SocketAddr), ConnectError> {
    let printed: Arc<Mutex<Option<Uri>>> = Arc::new(Mutex::new(None));
    let watcher = |printed: Arc<Mutex<Option<Uri>>>| -> LineWatch {
        Box::new(move |line: &[u8]| {
            if let Ok(mut slot) = printed.lock()
                && slot.is_none()
            {
                *slot = find_url(&String::from_utf8_lossy(line));
            }
        })
    };
    let watch =
        |printed: &Arc<Mutex<Option<Uri>>>| target.url.is_none().then(|| watcher(printed.clone()));
    tokio::spawn(drain_output(stdout, output.clone(), watch(&printed)));
    tokio::spawn(drain_output(stderr, output.clone(), watch(&printed)));
    let started = Instant::now();
    let not_ready = |what: String| ConnectError::NotReady {
        what,
        waited: options.startup_timeout,
        output_tail: output.last(OUTPUT_QUOTED),
    };
    loop {
        if let Some(exit) = process.exited() {
            // Its last words may still be in the pipe.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Err(ConnectError::ServerExited {
                exit,
                output_tail: output.last(OUTPUT_QUOTED),
            });
        }
        let url = target
            .url
            .clone()
            .or_else(|| printed.lock().ok().and_then(|p| p.clone()));
        if let Some(url) = &url
            && let Some(peer) = peer_address(url).await
        {
            return Ok((url.clone(), peer));
        }
        if started.elapsed() > options.startup_timeout {
            return Err(not_ready(match url {
                Some(url) => format!("the HTTP server did not accept connections at {url}"),
                None => "the server printed no http:// address (give --url)".to_string(),
            }));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The address a connection to `url` reaches, if one can be made now.
async fn peer_address(url: &Uri) -> Option<SocketAddr> {
    let host = url.host()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
    stream.peer_addr().ok()
}

/// The first `http://host:port/path` in a line of output. A wildcard host
/// (`0.0.0.0`, `[::]`) becomes the matching loopback address.
pub fn find_url(line: &str) -> Option<Uri> {
    let start = line.find("http://")?;
    let token: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '<' | '>' | ')' | ','))
        .collect();
    let token = token.trim_end_matches(['.', ';']);
    let token = token
        .replacen("http://0.0.0.0", "http://127.0.0.1", 1)
        .replacen("http://[::]", "http://[::1]", 1);
    let url: Uri = token.parse().ok()?;
    // Port 0 is the request for a port, not one (servers print it before the
    // real address): waiting on it would wait the whole start-up timeout.
    url.port_u16().filter(|&port| port != 0)?;
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_a_server_prints() {
        let url = find_url("mcpstorm serve: listening on http://127.0.0.1:43111/mcp").unwrap();
        assert_eq!(url.to_string(), "http://127.0.0.1:43111/mcp");
        let wildcard =
            find_url("INFO: Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C)").unwrap();
        assert_eq!(wildcard.host(), Some("127.0.0.1"));
        assert_eq!(wildcard.port_u16(), Some(8000));
        assert_eq!(
            find_url("see \"http://[::]:9000/mcp\".")
                .unwrap()
                .to_string(),
            "http://[::1]:9000/mcp"
        );
        assert!(find_url("listening on port 3001").is_none());
        assert!(
            find_url("binding http://127.0.0.1:0/mcp").is_none(),
            "port 0 is not an address yet"
        );
        assert!(
            find_url("docs at http://example.com/guide").is_none(),
            "no port: not an address"
        );
    }
}
