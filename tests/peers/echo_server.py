"""A small MCP server on the official Python `mcp` package, for mcpstorm's peer tests.

With mcp 2.x it is an MCPServer (handshake era and 2026-07-28); with mcp 1.x a
FastMCP (handshake era only).

Usage: python echo_server.py [stdio] [--leak TOOL:KB]
       python echo_server.py streamable-http PORT   (always on 127.0.0.1, path /mcp)
       python echo_server.py sse PORT   (the deprecated HTTP+SSE, 127.0.0.1, path /sse)

--leak TOOL:KB keeps KB for good on every call of that tool (a leak only it
has, for the leak hunt's measured truth).
"""

import sys

args = sys.argv[1:]
leak_tool, leak_kb = None, 0
if "--leak" in args:
    at = args.index("--leak")
    leak_tool, kb = args[at + 1].rsplit(":", 1)
    leak_kb = int(kb)
    del args[at : at + 2]
kept = []


def keep(tool):
    """Keep leak_kb KB resident (written, so the pages are really used)."""
    if tool == leak_tool:
        kept.append(bytearray(b"x" * (leak_kb * 1024)))

try:
    from mcp.server.mcpserver import MCPServer as Server  # mcp 2.x

    SDK = 2
except ImportError:
    from mcp.server.fastmcp import FastMCP as Server  # mcp 1.x

    SDK = 1

transport = args[0] if len(args) > 0 else "stdio"
port = int(args[1]) if len(args) > 1 else 8000

if SDK == 1:
    # FastMCP takes its HTTP settings in the constructor.
    server = Server("mcpstorm-peer-echo", host="127.0.0.1", port=port)
else:
    server = Server("mcpstorm-peer-echo")


@server.tool()
def echo(message: str) -> str:
    """Return the message."""
    keep("echo")
    return message


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    keep("add")
    return a + b


if __name__ == "__main__":
    if transport == "stdio" or SDK == 1:
        server.run(transport)
    else:
        server.run(transport, host="127.0.0.1", port=port)
