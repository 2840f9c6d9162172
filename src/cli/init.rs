//! `mcpstorm init`: write a scenario file from a server's real tools — one
//! `[[call]]` per tool with arguments made from its input schema, ready for
//! the user to put real values in — so that a server with none of the
//! built-in scenarios' tools gets a useful first run.

use std::io::Write;
use std::process::ExitCode;

use serde_json::Value;

use super::discover::{argument_lines, read};
use super::{InitArgs, exit};
use crate::client::catalog::{Catalog, Tool};
use crate::protocol::ServerInfo;
use crate::protocol::untrusted::quote;
use crate::scenario::autogen;

pub async fn init(args: InitArgs) -> ExitCode {
    let (server, catalog) = match read(&args.target, args.timeout_ms).await {
        Ok(found) => found,
        Err(error) => {
            eprintln!("mcpstorm init: {error}");
            return ExitCode::from(exit::SETUP);
        }
    };
    if catalog.tools.is_empty() {
        eprintln!(
            "mcpstorm init: the server lists no tools ({}); a scenario of its lists and \
             ping can be written by hand (see scenarios/ for examples)",
            if catalog.missing.is_empty() {
                "tools/list answered an empty list".to_string()
            } else {
                quote(&catalog.missing.join("; "), 300)
            }
        );
        return ExitCode::from(exit::SETUP);
    }
    let text = scenario_text(&server, &catalog);
    // The file must read back as the scenario it claims to be.
    if let Err(error) = crate::scenario::file::parse(&text, "(generated)") {
        eprintln!("mcpstorm init: the scenario written would not load: {error}");
        return ExitCode::from(exit::SETUP);
    }
    let Some(path) = &args.output else {
        out!("{text}");
        return ExitCode::from(exit::PASS);
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        // Never over a scenario the user has filled in.
        options.create_new(true);
    }
    let written = options
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    match written {
        Ok(()) => {
            let callable = catalog.tools.iter().filter(|t| t.safe_to_call()).count();
            eprintln!(
                "mcpstorm init: wrote {} ({} tool(s), {callable} called, the others commented \
                 out). Put real values in its arguments, then: mcpstorm check {0}; mcpstorm run \
                 {0} with the same server options",
                path.display(),
                catalog.tools.len(),
            );
            ExitCode::from(exit::PASS)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "mcpstorm init: {} exists; give another name, or --force to replace it",
                path.display()
            );
            ExitCode::from(exit::SETUP)
        }
        Err(error) => {
            eprintln!("mcpstorm init: cannot write {}: {error}", path.display());
            ExitCode::from(exit::SETUP)
        }
    }
}

/// Longest line of the server's words (a name, a description) in the file.
const COMMENT_CHARS: usize = 160;

/// The server's words made safe for one TOML comment line: the first line,
/// control characters shown escaped (a newline would end the comment and
/// write TOML of the server's choosing).
fn comment(text: &str) -> String {
    quote(text.lines().next().unwrap_or(""), COMMENT_CHARS)
}

/// A TOML string literal (quoted and escaped) holding `text`.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The scenario: a warm-up and a load phase at 4 workers (as the built-in
/// `tools`), one call per tool, and the criteria every server should meet.
pub fn scenario_text(server: &ServerInfo, catalog: &Catalog) -> String {
    let name = server
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(60)
        .collect::<String>();
    let name = if name.is_empty() { "my-server" } else { &name };
    // A scenario needs a call: with no tool safe to call, one that at
    // least does not reach out is written live, with a warning.
    let stand_in = if catalog.tools.iter().any(Tool::safe_to_call) {
        None
    } else {
        catalog
            .tools
            .iter()
            .position(|t| !t.reaches_out)
            .or(Some(0))
    };
    let blocks: Vec<(bool, String)> = catalog
        .tools
        .iter()
        .enumerate()
        .map(|(index, tool)| call_block(tool, stand_in == Some(index)))
        .collect();
    let live = blocks.iter().filter(|(live, _)| *live).count();
    let mut out = format!(
        "# Written by `mcpstorm init` from the tools the server listed: {} {} (protocol {}).\n\
         #\n\
         # Each tool is one [[call]] below, with arguments made from its input schema.\n\
         # A schema cannot say which values are real (a path that exists, the id of a\n\
         # record): put real ones in, or the calls measure the server's error path.\n\
         # Tools that may write, destroy or reach outside the server are written but\n\
         # commented out: uncomment one only where calling it is safe. {{seq}} in a\n\
         # value is the call's number, {{worker}} the worker's.\n\
         #\n\
         #   mcpstorm check FILE       then       mcpstorm run FILE -- SERVER COMMAND\n\
         \n\
         name = {}\n\
         description = \"\"\"\n\
         The tools of {}: {live} of {} called from 4 workers, 100 calls to warm up,\n\
         then 1000. The server must not crash, must answer every call in order and\n\
         well-formed, 99 % of calls must succeed, memory must grow by at most 50 MB,\n\
         and P95 under load must stay within 3x the warm-up's (or 10 ms of it).\"\"\"\n\
         \n\
         [[phase]]\n\
         name = \"warmup\"\n\
         load = {{ kind = \"concurrent\", workers = 4, calls = 100 }}\n\
         \n\
         [[phase]]\n\
         name = \"load\"\n\
         load = {{ kind = \"concurrent\", workers = 4, calls = 1000 }}\n",
        comment(&server.name),
        comment(&server.version),
        comment(&server.protocol_version),
        toml_string(name),
        name,
        catalog.tools.len(),
    );
    for (_, block) in blocks {
        out.push('\n');
        out.push_str(&block);
    }
    out.push_str(
        "\n[acceptance]\n\
         \"crashes == 0\" = {}\n\
         \"success_rate >= 0.99\" = {}\n\
         \"correlation_violations == 0\" = {}\n\
         \"protocol_violations == 0\" = {}\n\
         \"rss_growth_mb <= 50\" = {}\n\
         \"p95(load) <= max(3 * p95(warmup), p95(warmup) + 10)\" = {}\n",
    );
    out
}

/// One tool's `[[call]]`, commented out when it is not safe to call, unless
/// it is the `stand_in` for a server with no safe tool (then with a warning).
/// Says whether the call is live.
fn call_block(tool: &Tool, stand_in: bool) -> (bool, String) {
    let access = match (tool.read_only, tool.reaches_out) {
        (_, true) => "reaches outside the server or destroys (annotations)",
        (true, false) => "read-only",
        (false, false) => "may write (not annotated read-only)",
    };
    let mut out = format!("# {} — {access}.", comment(&tool.name));
    let about = comment(&tool.description);
    if !about.is_empty() {
        out.push_str(&format!(" {about}"));
    }
    out.push('\n');
    for line in argument_lines(&tool.input_schema) {
        out.push_str(&format!("#   {}\n", comment(&line)));
    }
    let arguments = autogen::arguments(&tool.input_schema, 1)
        .map_err(|why| why.to_string())
        .and_then(|args| inline_table(&args));
    let (live, why_not) = match (&arguments, tool.safe_to_call()) {
        (Err(why), _) => (false, Some(format!("no arguments could be made: {why}"))),
        (Ok(_), true) => (true, None),
        (Ok(_), false) if stand_in => {
            out.push_str(
                "# No tool of this server is read-only: this one is written live so that the\n\
                 # scenario has a call. Make sure calling it is safe before you run it.\n",
            );
            (true, None)
        }
        (Ok(_), false) => (false, Some("uncomment to call it".to_string())),
    };
    if let Some(why) = why_not {
        out.push_str(&format!("# ({})\n", comment(&why)));
    }
    let lead = if live { "" } else { "# " };
    out.push_str(&format!("{lead}[[call]]\n"));
    out.push_str(&format!("{lead}tool = {}\n", toml_string(&tool.name)));
    if let Ok(arguments) = arguments {
        let made_up = autogen::made_up(&tool.input_schema);
        if !made_up.is_empty() {
            out.push_str(&format!(
                "{lead}# made up from the schema, put real values in: {}\n",
                comment(&made_up.join(", "))
            ));
        }
        out.push_str(&format!("{lead}arguments = {arguments}\n"));
    }
    (live, out)
}

/// Arguments as a TOML inline table; TOML has no null, so a schema that asks
/// for one cannot be written.
fn inline_table(arguments: &Value) -> Result<String, String> {
    let table: toml::Value = serde_json::from_value(arguments.clone())
        .map_err(|e| format!("its arguments cannot be written in TOML ({e})"))?;
    Ok(table.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(name: &str, description: &str, read_only: bool, schema: Value) -> Tool {
        Tool {
            name: name.into(),
            description: description.into(),
            input_schema: schema,
            read_only,
            reaches_out: false,
            annotations: Value::Null,
        }
    }

    fn server() -> ServerInfo {
        ServerInfo {
            name: "notes\n[[call]]".into(),
            version: "1".into(),
            protocol_version: "2025-06-18".into(),
        }
    }

    #[test]
    fn the_file_loads_and_calls_the_read_only_tools() {
        let schema = json!({"type": "object", "required": ["path"],
            "properties": {"path": {"type": "string"}}});
        let catalog = Catalog {
            tools: vec![
                // A description that tries to write TOML of its own.
                tool(
                    "read",
                    "Reads.\n[[call]]\nmethod = \"ping\"",
                    true,
                    schema.clone(),
                ),
                tool("wri\"te", "Writes.", false, schema),
                tool(
                    "nulls",
                    "",
                    true,
                    json!({"type": "object", "required": ["n"],
                    "properties": {"n": {"type": "null"}}}),
                ),
            ],
            ..Catalog::default()
        };
        let text = scenario_text(&server(), &catalog);
        let scenario = crate::scenario::file::parse(&text, "init.toml").expect(&text);
        assert_eq!(scenario.name, "notescall");
        let calls = &scenario.phases[1].mix.calls;
        assert_eq!(calls.len(), 1, "only `read` is live: {text}");
        let ctx = crate::scenario::template::CallContext { seq: 1, worker: 0 };
        let params = calls[0].params.as_ref().unwrap().render(&ctx);
        assert_eq!(params["name"], "read");
        assert_eq!(params["arguments"]["path"], "mcpstorm 1");
        assert!(text.contains("# [[call]]\n# tool = 'wri\"te'"), "{text}");
        assert!(text.contains("1 of 3 called"), "{text}");
        assert!(text.contains("cannot be written in TOML"), "{text}");
    }

    #[test]
    fn a_server_without_read_only_tools_still_gets_a_call() {
        let catalog = Catalog {
            tools: vec![
                tool("write", "", false, json!({"type": "object"})),
                tool("delete", "", false, json!({"type": "object"})),
            ],
            ..Catalog::default()
        };
        let text = scenario_text(&server(), &catalog);
        let scenario = crate::scenario::file::parse(&text, "init.toml").expect(&text);
        assert_eq!(scenario.phases[1].mix.calls.len(), 1);
        assert!(text.contains("Make sure calling it is safe"), "{text}");
    }
}
