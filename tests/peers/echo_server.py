"""A small MCP server on the official Python `mcp` package, for mcpstorm's peer tests.

With mcp 2.x it is an MCPServer (handshake era and 2026-07-28); with mcp 1.x a
FastMCP (handshake era only). Usage: python echo_server.py [stdio|streamable-http]
"""

import sys

try:
    from mcp.server.mcpserver import MCPServer as Server  # mcp 2.x
except ImportError:
    from mcp.server.fastmcp import FastMCP as Server  # mcp 1.x

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
    server.run(sys.argv[1] if len(sys.argv) > 1 else "stdio")
