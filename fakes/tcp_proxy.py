"""A TCP proxy on 127.0.0.1 that a test can cut and restore: a database outage, on demand.

The bot connects to the proxy as it would to its database server; :meth:`TcpProxy.cut` drops
every connection and resets new ones at once (as a server that went down does),
:meth:`TcpProxy.restore` lets them through again (the server is back). The proxy keeps its port
all along, so nothing else can take it meanwhile. Nothing else about the server is faked.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """Forwards connections from its own port to ``target_port`` on 127.0.0.1."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        """The port it listens on, once started."""
        self.connections = 0
        """Connections accepted so far."""
        self._server: asyncio.Server | None = None
        self._down = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen, and forward every connection."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every connection, and reset new ones at once, like a server that went down."""
        self._down = True
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def stall(self) -> None:
        """Hold every byte, both ways, until :meth:`restore`: a server that hangs."""
        self._flowing.clear()

    async def restore(self) -> None:
        """The server is back (or answers again)."""
        self._down = False
        self._flowing.set()

    async def close(self) -> None:
        await self.cut()
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._down:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, upstream_writer)),
            asyncio.create_task(self._pipe(upstream_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            for end in (writer, upstream_writer):
                self._writers.discard(end)
                end.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                await self._flowing.wait()
                writer.write(chunk)
                await writer.drain()
        writer.transport.abort()


__all__ = ["TcpProxy"]
