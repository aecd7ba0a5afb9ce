"""The bot's one web server: a Starlette application served by uvicorn inside the bot's event
loop. Routes come from the parts that need them (webhooks, document links; a web console
later), so every channel of a process and every page share one port."""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # a webhook update is a few kB; anything this large is not one


def web_app(routes: list[BaseRoute]) -> Starlette:
    """The ASGI application of ``routes`` (what the server runs, and what a test can call
    through ``httpx.ASGITransport``)."""
    return Starlette(routes=routes)


class WebServer:
    """``app`` on ``listen:port`` (port 0: any free one, see ``port`` after ``start``)."""

    def __init__(self, app: Starlette, *, listen: str = "0.0.0.0", port: int = 8080) -> None:
        self.app = app
        self.listen = listen
        self.port = port
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.Task | None = None
        self._socket: socket.socket | None = None

    async def start(self) -> None:
        """Listen and serve; ``OSError`` when the address cannot be had (e.g. the port is
        taken). uvicorn's own signal handling is not used: the bot owns SIGINT/SIGTERM."""
        # Binding here (not in uvicorn) turns a taken port into an OSError instead of an exit.
        self._socket = socket.create_server((self.listen, self.port), reuse_port=False)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            interface="asgi3",
            access_log=False,  # document links carry their signature in the query string
            log_level=logging.WARNING,
            timeout_graceful_shutdown=30,
        )
        self._server = uvicorn.Server(config)
        config.load()
        self._server.lifespan = config.lifespan_class(config)
        await self._server.startup(sockets=[self._socket])
        self._loop = asyncio.create_task(self._server.main_loop(), name="formbot-web")
        log.info("web server listening on %s:%d", self.listen, self.port)

    async def stop(self) -> None:
        """Stop accepting, finish the requests under way, close."""
        if self._server is None:
            return
        self._server.should_exit = True
        if self._loop is not None:
            await self._loop
        await self._server.shutdown(sockets=[self._socket] if self._socket else None)
        if self._socket is not None:
            self._socket.close()
        self._server = self._loop = self._socket = None
