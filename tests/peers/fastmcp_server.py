"""A server on the standalone `fastmcp` package: `echo` (read-only), `fetch`
(read-only but open-world: it would reach the web; here it exits the server
with code 3, so a call to it shows as a crash) and `note` (may write).

    python fastmcp_server.py                     # stdio
    python fastmcp_server.py http PORT           # Streamable HTTP on 127.0.0.1:PORT/mcp
"""

import os
import sys

from fastmcp import FastMCP

mcp = FastMCP("fastmcp-peer")


@mcp.tool(annotations={"readOnlyHint": True, "openWorldHint": False})
def echo(message: str) -> str:
    """Echo the message back."""
    return message


@mcp.tool(annotations={"readOnlyHint": True, "openWorldHint": True})
def fetch(url: str) -> str:
    """Fetch a web page (never called by an automatic mix)."""
    os._exit(3)


@mcp.tool()
def note(text: str) -> str:
    """Write a note (may write: never called unless named)."""
    return "noted"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        mcp.run(transport="http", host="127.0.0.1", port=int(sys.argv[2]), path="/mcp",
                show_banner=False)
    else:
        mcp.run(show_banner=False)
