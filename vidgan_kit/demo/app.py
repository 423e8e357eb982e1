"""The demo's routes (Starlette): the page, the model and its runs, examples, uploads and jobs.

Nothing from the browser is used as a path: runs, examples, jobs and result files are
looked up by the ids this server handed out, and uploads are written under the job's
temporary folder with names made here. A request body over the limit is refused while it is
read, before it is all received.
"""

from __future__ import annotations

import importlib.resources
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import VidganError
from ..inference import Pipeline, load_pipeline
from ..io import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    probe_image,
    probe_video,
    write_video,
)
from ..registry import ComponentRegistry
from .examples import Example, write_examples
from .jobs import (
    MOTION_MODES,
    Job,
    JobQueue,
    TransferOptions,
    render_samples,
    render_transfer,
)
from .limits import DEFAULT_MAX_UPLOAD_MB, MAX_SAMPLES
from .runs import RunInfo, find_runs

__all__ = ["DemoState", "PageError", "create_app"]

log = logging.getLogger(__name__)

#: Upload file name extensions each input takes; the content is checked by decoding it too.
ACCEPTED = {"image": IMAGE_EXTENSIONS, "video": VIDEO_EXTENSIONS}
PAGE_FILES = {"page.js": "text/javascript", "page.css": "text/css"}
#: Everything the page loads comes from this server; uploads are shown from blob: URLs.
CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; object-src 'none';"
       " base-uri 'none'; frame-ancestors 'none'")


class PageError(Exception):
    """A refused request: its message is shown on the page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class DemoState:
    """The loaded run, the examples and the job queue of one server."""

    def __init__(self, source: str | Path, *, registry: ComponentRegistry | None = None, device: str = "cpu",
                 max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB << 20, keep_jobs: int = 16) -> None:
        if registry is None:
            from .. import load_registry

            registry = load_registry()
        self.registry, self.device = registry, device
        self.max_upload_bytes, self.keep_jobs = max_upload_bytes, keep_jobs
        self.tmp: Path | None = None
        self.examples: dict[str, Example] = {}
        self._jobs: JobQueue | None = None
        self.runs = find_runs(source)
        self.run: RunInfo = self.runs[0]
        self.pipe: Pipeline = self._load(self.run)

    # -- lifetime: the temporary folder exists while the server runs --------------------
    def start(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="vidgan-demo-"))
        self.examples = {e.id: e for e in write_examples(self.tmp / "examples", self.registry)}
        self._jobs = JobQueue(self.tmp / "jobs", keep=self.keep_jobs)

    def stop(self) -> None:
        if self._jobs is not None:
            self._jobs.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def jobs(self) -> JobQueue:
        if self._jobs is None:
            raise RuntimeError("the demo server has not started")
        return self._jobs

    # -- the model ----------------------------------------------------------------------
    def _load(self, run: RunInfo) -> Pipeline:
        return load_pipeline(run.path, registry=self.registry, device=self.device, notes=self._note)

    def _note(self, message: str) -> None:
        job = self._jobs.current if self._jobs is not None else None
        text = message.removeprefix("note: ")
        if job is not None:
            job.notes.append(text)
        else:
            log.info(text)

    def can(self, task: str) -> bool:
        return callable(getattr(self.pipe.model, task, None))

    def describe(self) -> dict[str, Any]:
        spec = getattr(self.pipe.model, "component_spec", None)
        return {
            "model": {**self.run.describe(), "type": spec.type if spec is not None else type(self.pipe.model).__name__,
                      "can_transfer": self.can("transfer"), "can_sample": self.can("sample")},
            "runs": [r.describe() for r in self.runs],
            "examples": [{"id": e.id, "kind": e.kind, "title": e.title} for e in self.examples.values()],
            "limits": {"max_upload_bytes": self.max_upload_bytes, "max_samples": MAX_SAMPLES},
            "motion_modes": list(MOTION_MODES),
        }

    def switch(self, run: RunInfo) -> None:
        pipe = self._load(run)
        self.run, self.pipe = run, pipe

    def refuse_unless(self, task: str) -> None:
        if not self.can(task):
            raise PageError(f"the loaded run {self.run.name!r} has a model that cannot {task}"
                            f" (no {task}() method); choose another run on the Model tab.")


# -- request bodies ----------------------------------------------------------------------


async def read_form(request: Request, limit: int) -> FormData:
    """The multipart form of ``request``, refused (413) as soon as its body passes ``limit`` bytes."""
    too_large = PageError(f"the upload is larger than this server's limit of {limit / 2**20:g} MiB per request"
                          " (vidgan demo --max-upload-mb)", 413)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    seen = 0

    async def receive() -> Message:
        nonlocal seen
        message = await request.receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large
        return message

    try:
        return await Request(request.scope, receive).form(max_files=2, max_fields=16)
    except PageError:
        raise
    except Exception as exc:  # malformed multipart bodies
        raise PageError(f"could not read the form: {exc}") from exc


def _save(source: BinaryIO, path: Path) -> None:
    with open(path, "wb") as f:
        shutil.copyfileobj(source, f, 1 << 20)


def _display_name(filename: str) -> str:
    """The last part of a browser-given file name, for messages only."""
    return PurePosixPath(filename.replace("\\", "/")).name[:120] or "upload"


async def take_input(state: DemoState, form: FormData, kind: str, job: Job) -> Path:
    """The ``kind`` ("image"/"video") input: an uploaded file, checked by decoding it, or an example by id."""
    item = form.get(kind)
    if isinstance(item, UploadFile) and item.filename:
        name = _display_name(item.filename)
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in ACCEPTED[kind]:
            raise PageError(f"{name} is not {'an image' if kind == 'image' else 'a video'} this page reads"
                            f" (it takes {', '.join(ACCEPTED[kind])} files).")
        path = job.inputs / f"{kind}{suffix}"
        await item.seek(0)
        await run_in_threadpool(_save, item.file, path)
        job.names[str(path)] = name
        probe = probe_image if kind == "image" else probe_video
        try:
            await run_in_threadpool(probe, path)
        except VidganError as exc:
            raise PageError(f"{name} is not a readable {kind}: {job.shown(str(exc))}") from exc
        return path
    chosen = form.get(f"{kind}_example")
    if isinstance(chosen, str) and chosen:
        example = state.examples.get(chosen)
        if example is None or example.kind != kind:
            raise PageError(f"no {kind} example {chosen!r}", 404)
        job.names[str(example.path)] = example.title
        return example.path
    raise PageError(f"choose {'an image' if kind == 'image' else 'a video'}: upload one or pick an example.")


def _integer(form: FormData, key: str, default: int | None, low: int, high: int) -> int | None:
    text = form.get(key)
    if not isinstance(text, str) or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise PageError(f"{key}: expected a whole number, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise PageError(f"{key}: expected {low} to {high}, got {value}")
    return value


def transfer_options(form: FormData) -> TransferOptions:
    motion = form.get("motion") or "relative"
    if motion not in MOTION_MODES:
        raise PageError(f"motion: expected one of {', '.join(MOTION_MODES)}, got {str(motion)[:40]!r}")
    return TransferOptions(
        motion=str(motion),
        best_frame=form.get("best_frame") in ("on", "true", "1"),
        crop=form.get("crop") in ("on", "true", "1"),
        start=_integer(form, "start", 0, 0, 10**7) or 0,
        frames=_integer(form, "frames", None, 1, 10**7),
    )


# -- routes ------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]


def create_app(state: DemoState, *, allowed_hosts: list[str] | None = None) -> Starlette:
    """The demo as an ASGI app; the state's temporary folder lives as long as the app's lifespan."""

    def resource(name: str) -> str:
        return importlib.resources.files(__package__).joinpath(name).read_text(encoding="utf-8")

    async def page(request: Request) -> Response:
        return Response(resource("page.html"), media_type="text/html; charset=utf-8")

    async def page_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in PAGE_FILES:
            raise PageError(f"no page file {name!r}", 404)
        return Response(resource(name), media_type=PAGE_FILES[name])

    async def describe(request: Request) -> Response:
        return JSONResponse(state.describe())

    async def example(request: Request) -> Response:
        found = state.examples.get(request.path_params["example_id"])
        if found is None:
            raise PageError("no such example", 404)
        return FileResponse(found.path)

    async def switch(request: Request) -> Response:
        form = await read_form(request, state.max_upload_bytes)
        run = next((r for r in state.runs if r.id == form.get("run")), None)
        if run is None:
            raise PageError(f"no run {str(form.get('run'))[:40]!r} on this server's list", 404)
        job = state.jobs.new("load")
        job.result = {"run": run.id}
        return JSONResponse(state.jobs.submit(job, lambda job: state.switch(run)).public())

    async def transfer(request: Request) -> Response:
        form = await read_form(request, state.max_upload_bytes)
        state.refuse_unless("transfer")
        options = transfer_options(form)
        job = state.jobs.new("transfer")
        try:
            image = await take_input(state, form, "image", job)
            video = await take_input(state, form, "video", job)
        except BaseException:
            state.jobs.discard(job)
            raise

        def work(job: Job) -> None:
            fps = probe_video(video).fps
            fps = fps if 1 <= fps <= 120 else 8.0
            clip, notes = render_transfer(state.pipe, image, video, options, job.progress)
            job.notes += notes
            for suffix in (".mp4", ".gif"):
                job.files[f"transfer{suffix}"] = write_video(job.folder / f"transfer{suffix}", clip, fps=fps)
            t, _, h, w = clip.shape
            job.result = {"frames": t, "height": h, "width": w, "fps": fps}

        return JSONResponse(state.jobs.submit(job, work).public())

    async def samples(request: Request) -> Response:
        form = await read_form(request, state.max_upload_bytes)
        state.refuse_unless("sample")
        k = _integer(form, "k", 4, 1, MAX_SAMPLES) or 4
        seed = _integer(form, "seed", 0, 0, 2**63 - 1) or 0
        job = state.jobs.new("samples")
        try:
            image = await take_input(state, form, "image", job)
        except BaseException:
            state.jobs.discard(job)
            raise

        def work(job: Job) -> None:
            job.progress(0, k)
            clips = render_samples(state.pipe, image, k, seed)
            for i, clip in enumerate(clips):
                job.files[f"sample_{i:03d}.gif"] = write_video(job.folder / f"sample_{i:03d}.gif", clip, fps=8)
                job.progress(i + 1, k)
            job.result = {"k": k, "seed": seed, "frames": int(clips.shape[1])}

        return JSONResponse(state.jobs.submit(job, work).public())

    def _job(request: Request) -> Job:
        job = state.jobs.get(request.path_params["job_id"])
        if job is None:
            raise PageError("no such job (finished jobs are kept for a while, then removed)", 404)
        return job

    async def job_status(request: Request) -> Response:
        return JSONResponse(_job(request).public())

    async def job_file(request: Request) -> Response:
        job = _job(request)
        path = job.files.get(request.path_params["name"])
        if path is None:
            raise PageError("no such file", 404)
        return FileResponse(path)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(state.start)
        try:
            yield
        finally:
            await run_in_threadpool(state.stop)

    routes = [
        Route("/", page),
        Route("/static/{name}", page_file),
        Route("/api/state", describe),
        Route("/api/model", switch, methods=["POST"]),
        Route("/api/examples/{example_id}", example),
        Route("/api/transfer", transfer, methods=["POST"]),
        Route("/api/samples", samples, methods=["POST"]),
        Route("/api/jobs/{job_id}", job_status),
        Route("/api/jobs/{job_id}/files/{name}", job_file),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else []
    app = Starlette(routes=routes, middleware=[*middleware, Middleware(_Headers)],
                    exception_handlers={PageError: refused}, lifespan=lifespan)
    app.state.demo = state
    return app


class _Headers:
    """Headers on every response: the page's content policy, and no guessing of content types."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"content-security-policy", CSP.encode()),
                                      (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
            await send(message)

        await self.app(scope, receive, send_with_headers)
