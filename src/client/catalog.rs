//! What a server offers: its tools, resources and prompts, read through the
//! list methods (following `nextCursor` pages).

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::session::Session;
use crate::protocol::Era;
use crate::protocol::jsonrpc::ResponseBody;
use crate::protocol::param_headers::ParamHeaders;
use crate::transport::RequestError;

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    /// `annotations.readOnlyHint`: the server says the tool changes nothing.
    pub read_only: bool,
    /// `annotations.openWorldHint` or `destructiveHint` set to true: the tool
    /// reaches beyond the server (the web, other systems) or destroys —
    /// never called automatically, whatever `readOnlyHint` says.
    pub reaches_out: bool,
    /// Every annotation, as the server gave them (shown by `discover`).
    pub annotations: Value,
}

impl Tool {
    /// Whether an automatic mix may call it without being told to: read-only,
    /// and neither open-world nor destructive.
    pub fn safe_to_call(&self) -> bool {
        self.read_only && !self.reaches_out
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    pub tools: Vec<Tool>,
    /// Resources and prompts as the server described them.
    pub resources: Vec<Value>,
    pub prompts: Vec<Value>,
    /// Lists the server does not offer (an error answered them), with why.
    pub missing: Vec<String>,
}

/// Why a list could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{method}: {error}")]
    Request { method: String, error: RequestError },
}

/// Most pages read from one list, against a server that never stops paging.
const MAX_PAGES: usize = 100;

/// Every item of a paginated list method; `Ok(None)` when the server answers
/// it with an error (it does not offer that list).
async fn list_all(
    session: &Session,
    method: &str,
    key: &str,
    timeout: Duration,
) -> Result<Result<Vec<Value>, String>, CatalogError> {
    let mut items = Vec::new();
    let mut cursor: Option<Value> = None;
    for _ in 0..MAX_PAGES {
        let params = cursor.take().map(|c| json!({ "cursor": c }));
        let (_, reply) = session.request(method, params.as_ref(), timeout).await;
        let reply = reply.map_err(|error| CatalogError::Request {
            method: method.to_string(),
            error,
        })?;
        let result = match reply.body {
            ResponseBody::Result(result) => match result.value() {
                Ok(value) => value,
                Err(why) => return Ok(Err(format!("{method}: {why}"))),
            },
            ResponseBody::Error(error) => {
                return Ok(Err(format!("{method}: {} ({})", error.message, error.code)));
            }
            ResponseBody::Unusable(why) => return Ok(Err(format!("{method}: {why}"))),
        };
        if let Some(page) = result.get(key).and_then(Value::as_array) {
            items.extend(page.iter().cloned());
        }
        match result.get("nextCursor") {
            Some(next) if !next.is_null() => cursor = Some(next.clone()),
            _ => return Ok(Ok(items)),
        }
    }
    Ok(Ok(items))
}

/// Read the server's tools, resources and prompts.
pub async fn read(session: &Session, timeout: Duration) -> Result<Catalog, CatalogError> {
    let mut catalog = Catalog::default();
    match tools(session, timeout).await? {
        Ok(tools) => catalog.tools = tools,
        Err(why) => catalog.missing.push(why),
    }
    match list_all(session, "resources/list", "resources", timeout).await? {
        Ok(resources) => catalog.resources = resources,
        Err(why) => catalog.missing.push(why),
    }
    match list_all(session, "prompts/list", "prompts", timeout).await? {
        Ok(prompts) => catalog.prompts = prompts,
        Err(why) => catalog.missing.push(why),
    }
    Ok(catalog)
}

/// The server's tools (`Ok(Err)`: it answered tools/list with an error).
pub async fn tools(
    session: &Session,
    timeout: Duration,
) -> Result<Result<Vec<Tool>, String>, CatalogError> {
    Ok(list_all(session, "tools/list", "tools", timeout)
        .await?
        .map(|tools| tools.iter().filter_map(tool).collect()))
}

/// The names of the server's prompts (`Ok(Err)`: it answered prompts/list
/// with an error).
pub async fn prompt_names(
    session: &Session,
    timeout: Duration,
) -> Result<Result<Vec<String>, String>, CatalogError> {
    Ok(list_all(session, "prompts/list", "prompts", timeout)
        .await?
        .map(|prompts| {
            prompts
                .iter()
                .filter_map(|p| Some(p.get("name")?.as_str()?.to_string()))
                .collect()
        }))
}

/// Over HTTP in the stateless era, read the tools' `x-mcp-header`
/// declarations so that their calls carry the `Mcp-Param-*` headers the
/// specification requires. Returns notes for the report: tools whose
/// declarations are invalid, or a tool list that could not be read.
pub async fn learn_param_headers(session: &Session, timeout: Duration) -> Vec<String> {
    let connection = session.connection();
    if !connection.mirrors_params_in_headers() {
        return Vec::new();
    }
    if session.version().era() != Era::Stateless {
        return Vec::new();
    }
    let tools = match tools(session, timeout).await {
        Ok(Ok(tools)) => tools,
        Ok(Err(why)) => return vec![format!("no Mcp-Param headers: {why}")],
        Err(error) => return vec![format!("no Mcp-Param headers: {error}")],
    };
    let declared = tools
        .iter()
        .map(|tool| (tool.name.as_str(), &tool.input_schema));
    let (headers, rejected) = ParamHeaders::from_tools(declared);
    connection.set_param_headers(headers);
    rejected
}

fn tool(value: &Value) -> Option<Tool> {
    Some(Tool {
        name: value.get("name")?.as_str()?.to_string(),
        description: value
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        input_schema: value
            .get("inputSchema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"})),
        read_only: value.pointer("/annotations/readOnlyHint") == Some(&Value::Bool(true)),
        reaches_out: ["openWorldHint", "destructiveHint"]
            .iter()
            .any(|hint| value.pointer(&format!("/annotations/{hint}")) == Some(&Value::Bool(true))),
        annotations: value.get("annotations").cloned().unwrap_or(Value::Null),
    })
}
