"""``vidgan demo``: a local web page that animates a photo with a trained run.

The page (``page.html``/``.js``/``.css``, served as they are: no build step, nothing loaded
from another host) offers motion transfer, stochastic samples, the loaded model and
built-in examples; the server renders in one worker thread and the page polls its jobs.

    from vidgan_kit.demo import start_in_thread
    server = start_in_thread("runs/")        # a run, or a folder of runs
    print(server.url); ...; server.stop()

Starlette and uvicorn come with the ``demo`` extra (``pip install 'vidgan-kit[demo]'``); this
module imports without them and :func:`require_extra` names what is missing.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from ..errors import VidganError
from .limits import DEFAULT_MAX_UPLOAD_MB, MAX_SAMPLES

__all__ = ["DEFAULT_MAX_UPLOAD_MB", "MAX_SAMPLES", "require_extra", "serve", "start_in_thread"]

#: Modules of the ``demo`` extra (import name, distribution name).
EXTRA_MODULES = (("starlette", "starlette"), ("uvicorn", "uvicorn"), ("multipart", "python-multipart"))


def require_extra() -> None:
    """Raise a :class:`VidganError` naming the install command when the ``demo`` extra is missing."""
    missing = [dist for module, dist in EXTRA_MODULES if _missing(module)]
    if missing:
        raise VidganError(
            f"vidgan demo needs the demo extra ({', '.join(missing)} not installed):"
            " pip install 'vidgan-kit[demo]'"
        )


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or one without a spec
        return True


def serve(source: Any, **kwargs: Any) -> None:
    """Serve the page for ``source`` until interrupted (:func:`vidgan_kit.demo.server.serve`)."""
    require_extra()
    from .server import serve as _serve

    _serve(source, **kwargs)


def start_in_thread(source: Any, **kwargs: Any) -> Any:
    """Serve the page from a background thread; returns the running
    :class:`~vidgan_kit.demo.server.DemoServer` (its ``url``, ``stop()``)."""
    require_extra()
    from .server import start_in_thread as _start

    return _start(source, **kwargs)
