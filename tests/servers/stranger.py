"""An MCP server (stdio, handshake era 2025-06-18) that has none of the
built-in scenarios' tools: what a new user's own server looks like to
mcpstorm. Its tools:

  lookup    read-only; `key` (string, with `examples`)
  count     read-only; `n` (integer, `default` 3)
  read_file read-only; `path` (string): an error unless the file exists, as
            a filesystem server answers generated paths
  note      may write; `path`, `text`: never called unless named
  fetch     read-only but open-world: never called unless named

and one prompt, `summary`. Each tool answers with the JSON of its name and
arguments. With CALL_LOG set, it appends that JSON, one line per call, to the
file CALL_LOG names: the server's own record of what it was sent.

Any argument (a marker the tests look for) is ignored."""

import json
import os

from mcp_stdio import send, serve, text_result

TOOLS = [
    {"name": "lookup", "description": "Look a key up.",
     "annotations": {"readOnlyHint": True},
     "inputSchema": {"type": "object", "required": ["key"], "properties": {
         "key": {"type": "string", "examples": ["alpha", "beta"]}}}},
    {"name": "count", "description": "Count to n.",
     "annotations": {"readOnlyHint": True},
     "inputSchema": {"type": "object", "required": ["n"], "properties": {
         "n": {"type": "integer", "minimum": 1, "default": 3}}}},
    {"name": "read_file", "description": "Read a file.",
     "annotations": {"readOnlyHint": True},
     "inputSchema": {"type": "object", "required": ["path"], "properties": {
         "path": {"type": "string", "description": "Absolute path"}}}},
    {"name": "note", "description": "Write a note to a file.",
     "inputSchema": {"type": "object", "required": ["path", "text"], "properties": {
         "path": {"type": "string"}, "text": {"type": "string"}}}},
    {"name": "fetch", "description": "Fetch a web page.",
     "annotations": {"readOnlyHint": True, "openWorldHint": True},
     "inputSchema": {"type": "object", "required": ["url"], "properties": {
         "url": {"type": "string", "format": "uri"}}}},
]


def call(rid, params):
    name = params.get("name")
    arguments = params.get("arguments") or {}
    record = json.dumps({"tool": name, "arguments": arguments}, sort_keys=True)
    log = os.environ.get("CALL_LOG")
    if log:
        with open(log, "a") as f:
            f.write(record + "\n")
    if name not in [t["name"] for t in TOOLS]:
        send({"jsonrpc": "2.0", "id": rid,
              "error": {"code": -32602, "message": f"Tool {name} not found"}})
        return
    failed = name == "read_file" and not os.path.isfile(str(arguments.get("path")))
    text_result(rid, record, failed)


if __name__ == "__main__":
    serve("stranger", TOOLS, call,
          prompts=[{"name": "summary", "arguments": [{"name": "topic", "required": True}]}])
