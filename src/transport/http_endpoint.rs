//! An HTTP endpoint as a transport: the client that speaks to it
//! (Streamable HTTP, `http.rs`, or the deprecated HTTP+SSE,
//! `legacy_sse.rs`) and, when mcpstorm knows it, the process behind the endpoint —
//! started with `--server-cmd` (its address learnt from what it prints, the
//! port checked free first) or named with `--pid` — with the check that the
//! process answering at the address is the one measured.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::Uri;
use serde_json::Value;
use tokio::process::ChildStdin;

use super::connection::{
    CloseReport, ConnectError, ConnectOptions, Connection, HttpTarget, LAST_WORDS_WAIT, Transport,
};
use super::correlator::{Correlator, Reply};
use super::endpoint_client::Client;
use super::http::{HttpConnection, HttpOptions, connector_for, fixed_headers};
use super::http_pool::HttpVersion;
use super::legacy_sse::{SseClient, SseOptions};
use super::process::ServerProcess;
use super::proxy;
use super::stdio::{LineWatch, StderrTail, drain_output};
use super::tls::{TlsConnector, TlsOptions};
use super::{RawReply, RequestError, TransportKind};
use super::{oauth, redirect};
use crate::probe::{listener, procfs};
use crate::protocol::jsonrpc::{Params, RawFrame};
use crate::protocol::param_headers::ParamHeaders;

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
    /// Stop a server started for the run, when the run cannot go on.
    async fn stop_after_failure(&self) {
        if let Host::Spawned { process, .. } = self {
            process.terminate(Duration::from_millis(500)).await;
        }
    }

    /// The process whose tree is measured, when known.
    fn pid(&self) -> Option<u32> {
        match self {
            Host::Spawned { process, .. } => Some(process.pid()),
            Host::Existing(pid) => Some(*pid),
            Host::Unknown => None,
        }
    }
}

struct HttpEndpoint {
    http: Box<dyn Client>,
    host: Host,
    /// The started server's stdout and stderr; empty otherwise.
    output: Arc<StderrTail>,
    /// End the session with `DELETE` at the end.
    end_session: bool,
    /// What opening it met, for the report's notes: redirects followed,
    /// where OAuth tokens come from.
    notes: Vec<String>,
}

impl Transport for HttpEndpoint {
    fn kind(&self) -> TransportKind {
        self.http.kind()
    }

    fn request<'a>(
        &'a self,
        method: &'a str,
        params: Option<&'a dyn Params>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Reply, RequestError>> {
        self.http.request(method, params, timeout).boxed()
    }

    fn probe<'a>(
        &'a self,
        build: Box<dyn FnOnce(u64) -> RawFrame + Send + 'a>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<RawReply, RequestError>> {
        self.http.probe(build, timeout).boxed()
    }

    fn notify<'a>(&'a self, method: &'a str, params: Option<&'a Value>) -> BoxFuture<'a, ()> {
        self.http.notify(method, params).boxed()
    }

    /// Its query (it may carry a token) shown as `?…`.
    fn endpoint(&self) -> Option<String> {
        let url = self.http.url();
        let shown = format!(
            "{}://{}{}",
            url.scheme_str().unwrap_or("http"),
            url.authority().map_or("", |a| a.as_str()),
            url.path()
        );
        Some(match url.query() {
            Some(_) => format!("{shown}?…"),
            None => shown,
        })
    }

    fn correlator(&self) -> Arc<Correlator> {
        self.http.correlator()
    }

    fn output(&self) -> Arc<StderrTail> {
        self.output.clone()
    }

    fn pid(&self) -> Option<u32> {
        self.host.pid()
    }

    fn process(&self) -> Option<&ServerProcess> {
        match &self.host {
            Host::Spawned { process, .. } => Some(process),
            _ => None,
        }
    }

    fn is_closed(&self) -> bool {
        match &self.host {
            Host::Spawned { process, .. } => process.exited().is_some(),
            Host::Existing(pid) => !procfs::is_alive(*pid),
            Host::Unknown => false,
        }
    }

    fn wait_closed(&self) -> BoxFuture<'_, ()> {
        async move {
            match &self.host {
                Host::Spawned { process, .. } => {
                    process.exited_at_last().await;
                }
                Host::Existing(pid) => {
                    while procfs::is_alive(*pid) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                Host::Unknown => std::future::pending().await,
            }
        }
        .boxed()
    }

    /// A refused connection comes before a known server's exit is seen.
    fn exit_shows_late(&self) -> bool {
        !matches!(self.host, Host::Unknown)
    }

    /// End the session with `DELETE` (when `end_session`), then stop the
    /// server if mcpstorm started it.
    fn close(&self, grace: Duration) -> BoxFuture<'_, CloseReport> {
        async move {
            self.http.wait_for_cancellations().await;
            let alive = !self.is_closed();
            let session_end = match (self.end_session && alive, self.http.has_session()) {
                (true, true) => self.http.end_session().await,
                _ => None,
            };
            let stopped = match &self.host {
                Host::Spawned { process, .. } => {
                    let stopped = process.terminate(grace).await;
                    self.output.wait_drained(LAST_WORDS_WAIT).await;
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
        .boxed()
    }

    fn can_restart(&self) -> bool {
        matches!(self.host, Host::Spawned { .. })
    }

    /// A new client with its own connections and session.
    fn sibling(&self) -> Option<Connection> {
        Some(Connection::new(HttpEndpoint {
            http: self.http.sibling(),
            host: Host::Unknown,
            output: Arc::new(StderrTail::default()),
            end_session: self.end_session,
            notes: Vec::new(),
        }))
    }

    fn carries_session_ids(&self) -> bool {
        true
    }

    fn has_session(&self) -> bool {
        self.http.has_session()
    }

    fn abandon_session(&self) {
        self.http.forget_session();
    }

    fn set_protocol_version(&self, version: &str) {
        self.http.set_protocol_version(version);
    }

    fn mirrors_params_in_headers(&self) -> bool {
        self.http.mirrors_params_in_headers()
    }

    fn set_param_headers(&self, headers: ParamHeaders) {
        self.http.set_param_headers(headers);
    }

    fn setup_notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

pub(super) async fn open(
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
                    host.stop_after_failure().await;
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
    // Redirects first: the calls, and the listener check, are for where
    // they lead.
    let (url, mut notes) = if target.follow_redirects {
        let probe = match target.legacy_sse {
            true => redirect::Probe::StreamGet,
            false => redirect::Probe::Post,
        };
        match redirect::follow(&url, &target.headers, &target.tls, probe).await {
            Ok(followed) => (followed.url, followed.hops),
            Err(error) => {
                host.stop_after_failure().await;
                return Err(error.into());
            }
        }
    } else {
        (url, Vec::new())
    };
    // Where the started server answered is the given URL's address: after
    // a redirect, the listener is looked up again.
    let answered_at = answered_at.filter(|_| notes.is_empty());
    if let Some(root) = host.pid()
        && options.check_listener
        && let Some(peer) = match answered_at {
            Some(peer) => Some(peer),
            None => peer_address(&url).await,
        }
        && let Err(error) = check_listener(&url, peer, root)
    {
        host.stop_after_failure().await;
        return Err(error);
    }
    // A proxy the environment names for this URL is refused, not bypassed
    // unsaid; TLS is set up once the URL is known (a started server prints
    // it). Either failing stops a server started for the run.
    let tls = match reachable(&url, &target.tls) {
        Ok(tls) => tls,
        Err(error) => {
            host.stop_after_failure().await;
            return Err(error);
        }
    };
    // A token first: every request carries it, the first included.
    let auth = match &target.oauth {
        Some(client) => match oauth::authorize(&url, client, &target.tls, correlator.clone()).await
        {
            Ok(source) => {
                notes.push(source.described());
                Some(source)
            }
            Err(error) => {
                host.stop_after_failure().await;
                return Err(error.into());
            }
        },
        None => None,
    };
    let http: Box<dyn Client> = if target.legacy_sse {
        let client = SseClient::new(
            SseOptions {
                connector: connector_for(&url, tls.as_ref()),
                url,
                headers: fixed_headers(&target.headers),
                max_message_bytes: options.max_message_bytes,
                open_timeout: options.startup_timeout,
                auth,
            },
            correlator,
        );
        // The stream is the session, and it names where messages go: open
        // it now, so that a wrong URL is said at once.
        if let Err(error) = client.stream().await {
            host.stop_after_failure().await;
            return Err(ConnectError::Sse(error));
        }
        Box::new(client)
    } else {
        let options = HttpOptions {
            url,
            headers: target.headers.clone(),
            max_message_bytes: options.max_message_bytes,
            tls,
            auth,
            version: if target.http2 {
                HttpVersion::Http2
            } else {
                HttpVersion::Http1
            },
        };
        let client = HttpConnection::new_sharing(&options, correlator);
        notes.extend(client.http2_note().await);
        Box::new(client)
    };
    Ok(Connection::new(HttpEndpoint {
        http,
        host,
        output,
        end_session: target.end_session,
        notes,
    }))
}

/// How `url` is reached: refused when a proxy would be bypassed; over
/// `https://`, the TLS connector `options` configure.
fn reachable(url: &Uri, options: &TlsOptions) -> Result<Option<Arc<TlsConnector>>, ConnectError> {
    if let (Some(scheme), Some(name)) = (url.scheme_str(), url.host())
        && let Some(variable) = proxy::would_route(scheme, name, &|v| std::env::var(v).ok())
    {
        return Err(ConnectError::Proxied {
            variable,
            host: name.to_string(),
        });
    }
    Ok(match url.scheme_str() {
        Some("https") => Some(Arc::new(TlsConnector::new(options)?)),
        _ => None,
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
                None => {
                    "the server printed no http:// or https:// address (give --url)".to_string()
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The address a connection to `url` reaches, if one can be made now.
async fn peer_address(url: &Uri) -> Option<SocketAddr> {
    let host = url.host()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let default_port = if url.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let port = url.port_u16().unwrap_or(default_port);
    let stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
    stream.peer_addr().ok()
}

/// The first `http://host:port/path` (or `https://`) in a line of output.
/// A wildcard host (`0.0.0.0`, `[::]`) becomes the matching loopback address.
pub fn find_url(line: &str) -> Option<Uri> {
    let start = [line.find("http://"), line.find("https://")]
        .into_iter()
        .flatten()
        .min()?;
    let token: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '<' | '>' | ')' | ','))
        .collect();
    let token = token.trim_end_matches(['.', ';']);
    let token = token
        .replacen("://0.0.0.0", "://127.0.0.1", 1)
        .replacen("://[::]", "://[::1]", 1);
    let url: Uri = token.parse().ok()?;
    // Port 0 is the request for a port, not one (servers print it before the
    // real address): waiting on it would wait the whole start-up timeout.
    url.port_u16().filter(|&port| port != 0)?;
    Some(url)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_a_server_prints() {
        let url = find_url("mcpstorm serve: listening on http://127.0.0.1:43111/mcp").unwrap();
        assert_eq!(url.to_string(), "http://127.0.0.1:43111/mcp");
        let url = find_url("listening on https://0.0.0.0:8443/mcp (TLS)").unwrap();
        assert_eq!(url.to_string(), "https://127.0.0.1:8443/mcp");
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
