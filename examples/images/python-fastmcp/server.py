"""A Python MCP server written the way the Python SDK's guide shows (FastMCP over stdio): tools, a resource, a
prompt, and a tool that reports progress. `from mcp.server.fastmcp import FastMCP` is the mcp 1.x API (pinned
below 2 in the image: mcp 2.x moved it)."""

import asyncio

from mcp.server.fastmcp import Context, FastMCP

mcp = FastMCP("python-fastmcp")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
def greet(name: str) -> str:
    """Say hello to someone."""
    return f"Hello, {name}!"


@mcp.tool()
async def count(steps: int, ctx: Context) -> str:
    """Count to `steps`, reporting progress at every step."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step} of {steps}")
        await asyncio.sleep(0.1)
    return f"counted to {steps}"


@mcp.resource("notes://welcome")
def welcome() -> str:
    """A static note."""
    return "Welcome to the Python FastMCP example served by mcp-operator."


@mcp.prompt()
def review(code: str) -> str:
    """Ask for a code review."""
    return f"Please review this code:\n\n{code}"


if __name__ == "__main__":
    mcp.run()  # stdio: the operator's gateway spawns this process and serves it over HTTP
