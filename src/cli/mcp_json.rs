//! Reading a server entry from the configuration file MCP clients share
//! (`{"mcpServers": {"name": {"command", "args", "env"}}}`, or `"servers"` as
//! VS Code writes it; an HTTP entry has `url`, optional `headers`, and
//! `"type": "http"`), so a user's existing entry runs unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::transport::ServerCommand;
use crate::transport::http as http_transport;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read MCP config {file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: not a valid MCP config: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file} has no server named `{name}` (it has: {available})")]
    UnknownServer {
        file: String,
        name: String,
        available: String,
    },
    #[error("{file} has {count} servers; choose one with --server NAME ({available})")]
    Ambiguous {
        file: String,
        count: usize,
        available: String,
    },
    #[error("server `{name}` in {file}: {message}")]
    BadHttp {
        file: String,
        name: String,
        message: String,
    },
    #[error("server `{name}` in {file} has neither `command` nor `url`")]
    Empty { file: String, name: String },
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "mcpServers", alias = "servers", default)]
    servers: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// What a config entry names.
#[derive(Debug)]
pub enum ConfigServer {
    Command(ServerCommand),
    /// An HTTP endpoint and the headers to send (values secret).
    Http {
        url: http::Uri,
        headers: Vec<(http::HeaderName, http::HeaderValue)>,
        /// `"type": "sse"`: the deprecated HTTP+SSE transport, `url` its
        /// SSE endpoint.
        legacy_sse: bool,
    },
}

/// The server of entry `name` (or the only entry) in `file`.
pub fn server_from(file: &Path, name: Option<&str>) -> Result<ConfigServer, ConfigError> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Io {
        file: shown.clone(),
        source,
    })?;
    let config: ConfigFile = serde_json::from_str(&text).map_err(|e| ConfigError::Invalid {
        file: shown.clone(),
        line: e.line(),
        column: e.column(),
        message: unquoted(&e),
    })?;
    let available = || {
        config
            .servers
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (name, entry) = match name {
        Some(name) => {
            config
                .servers
                .get_key_value(name)
                .ok_or_else(|| ConfigError::UnknownServer {
                    file: shown.clone(),
                    name: name.to_string(),
                    available: available(),
                })?
        }
        None if config.servers.len() == 1 => {
            config
                .servers
                .iter()
                .next()
                .ok_or_else(|| ConfigError::Ambiguous {
                    file: shown.clone(),
                    count: 0,
                    available: String::new(),
                })?
        }
        None => {
            return Err(ConfigError::Ambiguous {
                file: shown.clone(),
                count: config.servers.len(),
                available: available(),
            });
        }
    };
    match (&entry.command, &entry.url) {
        (Some(command), _) => {
            let mut server = ServerCommand::new(command.clone(), entry.args.clone());
            server.env = entry.env.clone().into_iter().collect();
            Ok(ConfigServer::Command(server))
        }
        (None, Some(url)) => {
            let bad = |message: String| ConfigError::BadHttp {
                file: shown.clone(),
                name: name.clone(),
                message,
            };
            let url = http_transport::parse_url(url).map_err(|e| bad(e.to_string()))?;
            let headers = entry
                .headers
                .iter()
                .map(|(k, v)| http_transport::parse_header(&format!("{k}: {v}")))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(e.to_string()))?;
            Ok(ConfigServer::Http {
                url,
                headers,
                legacy_sse: entry.kind.as_deref() == Some("sse"),
            })
        }
        (None, None) => Err(ConfigError::Empty {
            file: shown,
            name: name.clone(),
        }),
    }
}

/// serde's message without the value it quotes: a config file's `env` and
/// `headers` hold secrets, and "invalid type: integer `12345`" would print one.
fn unquoted(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let core = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(core, _)| core);
    let said = match error.classify() {
        serde_json::error::Category::Data => match core.split_once(", expected ") {
            Some((_, expected)) => format!(
                "a value of the wrong type or form, expected {expected} (the value is not quoted)"
            ),
            None if core.starts_with("missing field") || core.starts_with("duplicate field") => {
                core.to_string()
            }
            None => "a value of the wrong type or form (the value is not quoted)".to_string(),
        },
        // Syntax errors name what was expected, never a value.
        _ => core.to_string(),
    };
    format!("{said} at line {} column {}", error.line(), error.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    const CONFIG: &str = r#"{
  "mcpServers": {
    "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"],
               "env": {"MEMORY_FILE_PATH": "/tmp/secret-path.jsonl"}},
    "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp",
               "headers": {"Authorization": "Bearer s3cret-token"}},
    "old": {"type": "sse", "url": "http://127.0.0.1:9/sse"}
  }
}"#;

    #[test]
    fn an_entry_runs_as_written_and_its_env_stays_secret() {
        let file = write(CONFIG);
        let Ok(ConfigServer::Command(server)) = server_from(file.path(), Some("memory")) else {
            panic!("memory is a command entry");
        };
        assert_eq!(server.program, "npx");
        assert_eq!(
            server.args,
            vec!["-y", "@modelcontextprotocol/server-memory"]
        );
        assert_eq!(
            server.env,
            vec![("MEMORY_FILE_PATH".into(), "/tmp/secret-path.jsonl".into())]
        );
        assert!(!server.to_string().contains("secret-path"), "{server}");
    }

    #[test]
    fn mistakes_are_named() {
        let file = write(CONFIG);
        let err = server_from(file.path(), Some("memroy"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no server named `memroy`") && err.contains("memory, old, remote"),
            "{err}"
        );
        let err = server_from(file.path(), None).unwrap_err().to_string();
        assert!(err.contains("--server"), "{err}");
        let broken = write("{\n  \"mcpServers\": {\n    \"a\": {\"command\": 3}\n  }\n}");
        let err = server_from(broken.path(), None).unwrap_err().to_string();
        assert!(err.contains(":3:"), "names the line: {err}");
    }

    #[test]
    fn an_http_entry_keeps_its_headers_secret() {
        let file = write(CONFIG);
        let Ok(ConfigServer::Http {
            url,
            headers,
            legacy_sse: false,
        }) = server_from(file.path(), Some("remote"))
        else {
            panic!("remote is a Streamable HTTP entry");
        };
        assert_eq!(url.to_string(), "http://127.0.0.1:9/mcp");
        assert_eq!(headers[0].0, "authorization");
        assert!(headers[0].1.is_sensitive());
        assert!(!format!("{:?}", headers[0].1).contains("s3cret"));
    }

    #[test]
    fn an_sse_entry_is_the_legacy_transport() {
        let file = write(CONFIG);
        let Ok(ConfigServer::Http {
            url,
            legacy_sse: true,
            ..
        }) = server_from(file.path(), Some("old"))
        else {
            panic!("old is an HTTP+SSE entry");
        };
        assert_eq!(url.to_string(), "http://127.0.0.1:9/sse");
    }

    #[test]
    fn vs_code_files_and_a_lone_entry_work() {
        let file = write(r#"{"servers": {"only": {"command": "python3", "args": ["s.py"]}}}"#);
        assert!(matches!(
            server_from(file.path(), None),
            Ok(ConfigServer::Command(c)) if c.program == "python3"
        ));
    }
}
