"""Running the demo: in the foreground (``vidgan demo``) or on a background thread (tests, notebooks)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from ..errors import VidganError
from .app import DemoState, create_app

__all__ = ["LOOPBACK", "DemoServer", "serve", "start_in_thread"]

#: Host names of this machine only: a server bound to one of them accepts only these Host headers
#: (a page elsewhere cannot reach it through a DNS name pointed at 127.0.0.1).
LOOPBACK = ("127.0.0.1", "localhost")


def _app(source: str | Path, host: str, **kwargs: Any) -> Starlette:
    return create_app(DemoState(source, **kwargs), allowed_hosts=list(LOOPBACK) if host in LOOPBACK else None)


def serve(source: str | Path, *, host: str = "127.0.0.1", port: int = 7860, on_ready: Any = None,
          **kwargs: Any) -> None:
    """Load ``source`` (a run or a folder of runs) and serve the page until interrupted.

    ``kwargs`` go to :class:`~vidgan_kit.demo.app.DemoState` (``registry``, ``device``,
    ``max_upload_bytes``). ``on_ready(url)`` is called once the model is loaded.
    """
    app = _app(source, host, **kwargs)
    try:
        sock = socket.create_server((host, port))
    except OSError as exc:
        raise VidganError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port or --host.") from exc
    if on_ready is not None:
        on_ready(f"http://{host}:{sock.getsockname()[1]}/")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


@dataclass
class DemoServer:
    """A demo running on a background thread."""

    url: str
    app: Starlette
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def state(self) -> DemoState:
        return self.app.state.demo

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving; the temporary folder is removed."""
        self.server.should_exit = True
        self.thread.join(timeout)


def start_in_thread(source: str | Path, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 60.0,
                    **kwargs: Any) -> DemoServer:
    """Serve on a background thread (``port=0``: a free port) and return once it accepts requests."""
    app = _app(source, host, **kwargs)
    sock = socket.create_server((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}/"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="vidgan-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise VidganError(f"the demo server did not start within {timeout:g} s")
        time.sleep(0.05)
    return DemoServer(url, app, server, thread)
