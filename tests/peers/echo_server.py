"""A small MCP server on the official Python `mcp` package, for mcpstorm's peer tests.

With mcp 2.x it is an MCPServer (handshake era and 2026-07-28); with mcp 1.x a
FastMCP (handshake era only).

Usage: python echo_server.py [stdio]
       python echo_server.py streamable-http PORT   (always on 127.0.0.1, path /mcp)
"""

import sys

try:
    from mcp.server.mcpserver import MCPServer as Server  # mcp 2.x

    SDK = 2
except ImportError:
    from mcp.server.fastmcp import FastMCP as Server  # mcp 1.x

    SDK = 1

transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

if SDK == 1:
    # FastMCP takes its HTTP settings in the constructor.
    server = Server("mcpstorm-peer-echo", host="127.0.0.1", port=port)
else:
    server = Server("mcpstorm-peer-echo")


@server.tool()
def echo(message: str) -> str:
    """Return the message."""
    return message


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


if __name__ == "__main__":
    if transport == "stdio" or SDK == 1:
        server.run(transport)
    else:
        server.run(transport, host="127.0.0.1", port=port)
