"""A handshake-era (2025-06-18) MCP server loop over stdio, for the test
servers in this folder: `serve` answers initialize, tools/list, prompts/list,
ping and prompts/get, and hands each tools/call to the server's own function."""

import json
import sys


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def serve(name, tools, call, prompts=()):
    """`call(rid, params)` answers a tools/call (with `send`)."""
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or "id" not in message or "method" not in message:
            continue
        method, rid = message["method"], message["id"]
        if method == "initialize":
            send({"jsonrpc": "2.0", "id": rid, "result": {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}, "prompts": {}},
                "serverInfo": {"name": name, "version": "1.0"}}})
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": rid, "result": {"tools": list(tools)}})
        elif method == "prompts/list":
            send({"jsonrpc": "2.0", "id": rid, "result": {"prompts": list(prompts)}})
        elif method == "tools/call":
            call(rid, message.get("params") or {})
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": rid, "result": {}})
        elif method == "prompts/get":
            send({"jsonrpc": "2.0", "id": rid, "result": {"messages": []}})
        else:
            send({"jsonrpc": "2.0", "id": rid,
                  "error": {"code": -32601, "message": f"Method not found: {method}"}})


def text_result(rid, text, is_error=False):
    send({"jsonrpc": "2.0", "id": rid, "result": {
        "content": [{"type": "text", "text": text}], "isError": is_error}})


ECHO = {"name": "echo", "annotations": {"readOnlyHint": True},
        "inputSchema": {"type": "object", "required": ["message"],
                        "properties": {"message": {"type": "string"}}}}
