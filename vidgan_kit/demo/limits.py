"""The demo's documented limits (a leaf module: the CLI reads them without the demo extra)."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_UPLOAD_MB", "MAX_SAMPLES"]

#: The default limit on one request's body (the uploaded image and video together), in MiB.
DEFAULT_MAX_UPLOAD_MB = 64
#: The most samples one request draws (they are held at once and shown as one grid).
MAX_SAMPLES = 16
