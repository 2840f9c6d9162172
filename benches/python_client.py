"""Sequential echo calls through the official Python MCP SDK client
(`ClientSession` over `stdio_client`), for benches/python_client.sh.

Usage: python python_client.py CALLS SERVER_CMD...
Prints one JSON line: the protocol version spoken, calls, seconds, calls/s,
p50 and p99 in microseconds.
"""

import asyncio
import json
import os
import sys
import time

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


async def main() -> None:
    calls = int(sys.argv[1])
    command, args = sys.argv[2], sys.argv[3:]
    server = StdioServerParameters(command=command, args=args)
    # The server's own logging goes nowhere: only the client is timed.
    with open(os.devnull, "w") as quiet:
        async with stdio_client(server, errlog=quiet) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                # Warm-up, as mcpstorm's scenario has.
                for i in range(200):
                    await session.call_tool("echo", {"message": f"warm {i}"})
                latencies = []
                started = time.perf_counter()
                for i in range(calls):
                    sent = time.perf_counter()
                    await session.call_tool("echo", {"message": f"bench {i}"})
                    latencies.append(time.perf_counter() - sent)
                elapsed = time.perf_counter() - started
                protocol = str(getattr(session, "protocol_version", ""))
    latencies.sort()
    print(
        json.dumps(
            {
                "protocol": protocol,
                "calls": calls,
                "seconds": elapsed,
                "per_second": calls / elapsed,
                "p50_us": latencies[len(latencies) // 2] * 1e6,
                "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6,
            }
        )
    )


asyncio.run(main())
