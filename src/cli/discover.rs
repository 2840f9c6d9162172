//! `mcpstorm discover`: what a server offers — tools with their input
//! schemas and whether they are read-only, resources, prompts — and an
//! example of the arguments a schema-driven mix would send.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use super::run::target;
use super::{DiscoverArgs, TargetArgs, exit};
use crate::client::Session;
use crate::client::catalog::{self, Catalog, Tool};
use crate::protocol::untrusted::quote_lines;
use crate::scenario::autogen;
use crate::transport::{ConnectOptions, Connection};

pub async fn discover(args: DiscoverArgs) -> ExitCode {
    match read(&args.target, args.timeout_ms).await {
        Ok((session_info, catalog)) => {
            if args.json {
                let doc = json!({"server": session_info, "catalog": catalog});
                outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else {
                // Every name and description in it is the server's word.
                out!(
                    "{}",
                    quote_lines(&describe(&session_info, &catalog), LINE_CHARS)
                );
            }
            ExitCode::from(exit::PASS)
        }
        Err(error) => {
            eprintln!("mcpstorm discover: {error}");
            ExitCode::from(exit::SETUP)
        }
    }
}

/// Longest line of the human listing (a description may be a book).
const LINE_CHARS: usize = 1000;

/// Open a session with the server, read its catalog, close it.
pub(super) async fn read(
    args: &TargetArgs,
    timeout_ms: u64,
) -> Result<(crate::protocol::ServerInfo, Catalog), String> {
    let timeout = Duration::from_millis(timeout_ms);
    let target = target(args)?;
    let options = ConnectOptions {
        max_message_bytes: crate::transport::stdio::DEFAULT_MAX_MESSAGE_BYTES,
        startup_timeout: timeout,
        check_listener: true,
    };
    let connection = Connection::open(&target, options)
        .await
        .map_err(|e| e.to_string())?;
    let session = Session::open(connection, args.protocol_choice(), timeout)
        .await
        .map_err(|e| e.to_string())?;
    let catalog = catalog::read(&session, timeout)
        .await
        .map_err(|e| e.to_string());
    session.close(Duration::from_secs(2)).await;
    Ok((session.server().clone(), catalog?))
}

/// One line per argument: `name: type*` (`*` required), with its limits.
pub(super) fn argument_lines(schema: &Value) -> Vec<String> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let kind = match property.get("type") {
                Some(Value::String(t)) => t.clone(),
                Some(Value::Array(types)) => types
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("|"),
                _ => "any".to_string(),
            };
            let mut line = format!(
                "{name}: {kind}{}",
                if required.contains(&name.as_str()) {
                    "*"
                } else {
                    ""
                }
            );
            for key in [
                "enum", "minimum", "maximum", "format", "default", "examples",
            ] {
                if let Some(value) = property.get(key) {
                    line.push_str(&format!(" {key}={value}"));
                }
            }
            // The first line: a description may run to pages of examples.
            if let Some(about) = property.get("description").and_then(Value::as_str) {
                line.push_str(&format!(" — {}", about.lines().next().unwrap_or("")));
            }
            line
        })
        .collect()
}

fn tool_block(tool: &Tool) -> String {
    let access = match (tool.read_only, tool.reaches_out) {
        (_, true) => "reaches out or destroys: never called automatically",
        (true, false) => "read-only",
        (false, false) => "may write",
    };
    let mut out = format!(
        "  {}  [{access}]  {}\n",
        tool.name,
        tool.description.lines().next().unwrap_or("")
    );
    if let Some(annotations) = tool.annotations.as_object().filter(|a| !a.is_empty()) {
        let shown: Vec<String> = annotations
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!("      annotations: {}\n", shown.join(" ")));
    }
    for line in argument_lines(&tool.input_schema) {
        out.push_str(&format!("      {line}\n"));
    }
    match autogen::arguments(&tool.input_schema, 1) {
        Ok(example) => out.push_str(&format!("      e.g. {example}\n")),
        Err(why) => out.push_str(&format!("      (not called by an automatic mix: {why})\n")),
    }
    out
}

fn describe(server: &crate::protocol::ServerInfo, catalog: &Catalog) -> String {
    let mut out = format!(
        "server {} {} · protocol {}\n",
        server.name, server.version, server.protocol_version
    );
    let safe = catalog.tools.iter().filter(|t| t.safe_to_call()).count();
    out.push_str(&format!(
        "{} tool(s), {safe} called by an automatic mix (read-only, not open-world or \
         destructive; arguments marked * are required):\n",
        catalog.tools.len()
    ));
    for tool in &catalog.tools {
        out.push_str(&tool_block(tool));
    }
    out.push_str(&format!("{} resource(s):\n", catalog.resources.len()));
    for resource in &catalog.resources {
        let field = |k: &str| resource.get(k).and_then(Value::as_str).unwrap_or("");
        out.push_str(&format!(
            "  {}  {} {}\n",
            field("uri"),
            field("name"),
            field("mimeType")
        ));
    }
    out.push_str(&format!("{} prompt(s):\n", catalog.prompts.len()));
    for prompt in &catalog.prompts {
        let name = prompt.get("name").and_then(Value::as_str).unwrap_or("");
        let arguments: Vec<String> = prompt
            .get("arguments")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|arg| {
                        let n = arg.get("name").and_then(Value::as_str).unwrap_or("");
                        let required = arg.get("required") == Some(&Value::Bool(true));
                        format!("{n}{}", if required { "*" } else { "" })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let about = prompt
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        out.push_str(&format!("  {name}({}) {about}\n", arguments.join(", ")));
    }
    for missing in &catalog.missing {
        out.push_str(&format!("not offered: {missing}\n"));
    }
    out
}
