"""Rendering off the request path: one worker thread runs the page's jobs in order.

Each job has a folder under the server's temporary folder: ``inputs/`` (the uploads, removed
when the job ends) and its results (kept for download until the job is pruned or the server
stops). A job that fails keeps its message for the page; the worker goes on with the next.
"""

from __future__ import annotations

import logging
import queue
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import VidganError
from ..io import probe_video

if TYPE_CHECKING:
    import torch

    from ..inference import Pipeline

__all__ = ["MOTION_MODES", "Job", "JobQueue", "TransferOptions", "render_samples", "render_transfer"]

log = logging.getLogger(__name__)

#: Motion modes the page offers, as the field names them.
MOTION_MODES = ("relative", "absolute")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TransferOptions:
    """The page's transfer controls."""

    motion: str = "relative"
    best_frame: bool = False
    crop: bool = False
    start: int = 0
    frames: int | None = None  # None: to the end of the source video

    def changed(self) -> dict[str, Any]:
        """The options set away from their defaults."""
        default = TransferOptions()
        return {k: v for k, v in vars(self).items() if v != getattr(default, k)}


def render_transfer(pipe: Pipeline, image: Path, video: Path, options: TransferOptions,
                    progress: Progress) -> tuple[torch.Tensor, list[str]]:
    """The page's one route to a transfer: ``[N, C, H, W]`` in [-1, 1] for every source frame
    in range, and notes for the page. A model that cannot continue motion past its clip
    length T animates the first T frames from the start frame, with a note saying so."""
    notes: list[str] = []
    frames = options.frames
    why = pipe.window_limit()
    t = pipe.geometry.frames
    if frames is None and why is not None and not options.best_frame and probe_video(video).frames - options.start > t:
        frames = t
        notes.append(f"this model animates {t} frames at a time ({why}): the first {t} from the start frame")
    clip = pipe.transfer(image, video, motion=options.motion, best_frame=options.best_frame, start=options.start,
                         frames=frames, progress=progress, crop=options.crop)
    return clip, notes


def render_samples(pipe: Pipeline, image: Path, k: int, seed: int) -> torch.Tensor:
    """``k`` samples of ``image`` with random motion, ``[k, T, C, H, W]`` in [-1, 1]."""
    return pipe.sample(image, n=k, seed=seed)


@dataclass
class Job:
    """One unit of work and what the page sees of it (:meth:`public`)."""

    id: str
    kind: str
    folder: Path
    status: str = "queued"  # queued, running, done, failed
    done: int = 0
    total: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # name in the URL -> file
    names: dict[str, str] = field(default_factory=dict)  # temporary path -> the name the user gave
    finished: float | None = None

    @property
    def inputs(self) -> Path:
        return self.folder / "inputs"

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def shown(self, message: str) -> str:
        """``message`` with the uploads' temporary paths replaced by the names the user gave."""
        for path, name in self.names.items():
            message = message.replace(repr(path), repr(name)).replace(path, name)
        return message

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, "done": self.done, "total": self.total,
                "error": self.error, "notes": [self.shown(n) for n in self.notes], "result": self.result,
                "files": sorted(self.files)}


class JobQueue:
    """Jobs run one at a time, in order, on a worker thread; finished ones beyond ``keep`` are removed."""

    def __init__(self, root: Path, keep: int = 16) -> None:
        self.root, self.keep = root, keep
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Job, Callable[[Job], None]] | None] = queue.Queue()
        self.current: Job | None = None
        self._thread = threading.Thread(target=self._work, name="vidgan-demo-worker", daemon=True)
        self._thread.start()

    def new(self, kind: str) -> Job:
        """A job with its folder, not queued yet (its inputs are written first)."""
        job_id = secrets.token_hex(8)
        job = Job(job_id, kind, self.root / job_id)
        job.inputs.mkdir(parents=True)
        return job

    def submit(self, job: Job, work: Callable[[Job], None]) -> Job:
        with self._lock:
            self._jobs[job.id] = job
        self._queue.put((job, work))
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def discard(self, job: Job) -> None:
        """Remove a job that was never queued (its inputs were refused)."""
        shutil.rmtree(job.folder, ignore_errors=True)

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            job, work = item
            job.status, self.current = "running", job
            try:
                work(job)
                job.status = "done"
            except VidganError as exc:
                job.status, job.error = "failed", job.shown(str(exc))
            except Exception as exc:  # the page shows it and the worker goes on
                log.exception("demo job %s (%s) failed", job.id, job.kind)
                job.status, job.error = "failed", job.shown(f"internal error: {type(exc).__name__}: {exc}")
            finally:
                self.current = None
                job.finished = time.monotonic()
                shutil.rmtree(job.inputs, ignore_errors=True)
                self._prune()

    def _prune(self) -> None:
        with self._lock:
            finished = sorted((j for j in self._jobs.values() if j.finished is not None), key=lambda j: j.finished)
            old = finished[: max(0, len(finished) - self.keep)]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)
