"""The demo's HTTP side (httpx and a raw socket): limits, bad inputs, path safety, clean-up."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch

from vidgan_kit import hookimpl
from vidgan_kit.checkpoint import save_checkpoint
from vidgan_kit.demo import start_in_thread
from vidgan_kit.io import write_image, write_video

from ..training.toys import Gan as ToyGan
from ..training.toys import GanConfig, make_host

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def demo(runs: Path) -> Any:
    server = start_in_thread(runs, max_upload_bytes=LIMIT)
    yield server
    server.stop()


@pytest.fixture
def client(demo: Any) -> httpx.Client:
    with httpx.Client(base_url=demo.url, timeout=60) as c:
        yield c


def _finish(client: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def test_an_oversized_upload_is_refused_while_it_arrives_and_the_server_goes_on(demo, client):
    big = {"video": ("big.mp4", b"\0" * (2 * LIMIT), "video/mp4")}
    refused = client.post("/api/transfer", data={"image_example": "image-0"}, files=big)
    assert refused.status_code == 413 and "0.0625 MiB" in refused.json()["error"]

    # Without a Content-Length: the body is counted as it arrives, and the answer comes before its end.
    host, port = demo.url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /api/transfer HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: multipart/form-data; boundary=x\r\n\r\n")
        part = (b'--x\r\nContent-Disposition: form-data; name="video"; filename="big.mp4"\r\n'
                b"Content-Type: video/mp4\r\n\r\n")  # a well-formed part, so only its size can be refused
        sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        chunk = b"\0" * 8192
        for _ in range(2 * LIMIT // len(chunk)):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = sock.recv(4096)  # the body is not finished: no closing chunk was sent
    assert answer.startswith(b"HTTP/1.1 413")

    assert client.get("/api/state").status_code == 200


@pytest.mark.parametrize(("field", "name", "content", "expected"), [
    ("video", "notes.txt", b"hello", "notes.txt is not a video"),
    ("video", "notes.mp4", b"hello", "notes.mp4 is not a readable video"),
    ("image", "notes.png", b"hello", "notes.png is not a readable image"),
    ("image", "clip.mp4", b"hello", "clip.mp4 is not an image"),
])
def test_a_file_that_is_not_an_image_or_a_video_is_named_in_the_error(client, field, name, content, expected):
    other = "video_example" if field == "image" else "image_example"
    answer = client.post("/api/transfer", data={other: "video-swing" if field == "image" else "image-0"},
                         files={field: (name, content, "application/octet-stream")})
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert message.startswith(expected) and "vidgan-demo-" not in message  # no temporary path shown


def test_a_video_too_short_for_the_model_fails_its_job_with_a_message(client, tmp_path):
    short = write_video(tmp_path / "short.mp4", torch.zeros(2, 3, 16, 16), fps=8)
    job = client.post("/api/transfer", data={"image_example": "image-0"},
                      files={"video": ("short.mp4", Path(short).read_bytes(), "video/mp4")}).json()
    job = _finish(client, job)
    assert job["status"] == "failed"
    assert "'short.mp4' has 2 frame(s); the model needs at least 4" in job["error"]
    ok = _finish(client, client.post("/api/transfer", data={"image_example": "image-0",
                                                             "video_example": "video-swing"}).json())
    assert ok["status"] == "done" and ok["result"]["frames"] >= 4


def test_options_out_of_range_are_refused_by_name(client):
    answer = client.post("/api/transfer", data={"image_example": "image-0", "video_example": "video-swing",
                                                "motion": "sideways"})
    assert answer.status_code == 400 and answer.json()["error"].startswith("motion:")
    answer = client.post("/api/samples", data={"image_example": "image-0", "k": "1000"})
    assert answer.status_code == 400 and answer.json()["error"].startswith("k: expected 1 to 16")


def test_nothing_from_the_browser_is_used_as_a_path(demo, client, runs):
    before = _files(runs)
    for url in ("/api/examples/..%2F..%2Fetc%2Fpasswd", "/api/examples/image-0%2F..", "/static/app.py",
                "/static/..%2F__init__.py", "/api/jobs/..%2F..", "/api/jobs/x/files/..%2Frunner.py"):
        assert client.get(url).status_code == 404, url
    for run in ("../runs/a", str(runs / "a"), "a"):
        assert client.post("/api/model", data={"run": run}).status_code == 404
    # A hostile upload name is only ever shown, never used: the file lands under the job's folder.
    image = write_image(runs.parent / "input.png", torch.zeros(3, 16, 16))
    job = client.post("/api/samples", data={"k": "1"},
                      files={"image": ("../../../../escaped.png", Path(image).read_bytes(), "image/png")}).json()
    assert _finish(client, job)["status"] == "done"
    assert not list(Path("/").glob("escaped.png")) and not list(runs.parent.rglob("escaped.png"))
    # A page on another host name (a DNS name pointed at 127.0.0.1) is refused.
    assert client.get("/api/state", headers={"host": "attacker.example"}).status_code == 400
    assert _files(runs) == before  # nothing written next to the runs


def test_runs_are_chosen_by_id_and_switched(client):
    state = client.get("/api/state").json()
    assert [(r["id"], r["name"], r["step"], r["recipe"]) for r in state["runs"]] == [
        ("run-0", "a", 2, "tiny"), ("run-1", "b", 2, "tiny")]
    assert state["model"]["id"] == "run-0" and (state["model"]["height"], state["model"]["frames"]) == (16, 4)
    try:
        assert _finish(client, client.post("/api/model", data={"run": "run-1"}).json())["status"] == "done"
        assert client.get("/api/state").json()["model"]["name"] == "b"
    finally:
        _finish(client, client.post("/api/model", data={"run": "run-0"}).json())


def test_uploads_go_when_their_job_ends_and_the_folder_when_the_server_stops(runs, tmp_path):
    image = write_image(tmp_path / "in.png", torch.zeros(3, 16, 16))
    server = start_in_thread(runs / "a")
    folder = server.state.tmp
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            job = client.post("/api/samples", data={"k": "2"},
                              files={"image": ("in.png", Path(image).read_bytes(), "image/png")}).json()
            job = _finish(client, job)
            assert job["status"] == "done" and job["files"] == ["sample_000.gif", "sample_001.gif"]
            assert not (folder / "jobs" / job["id"] / "inputs").exists()
            assert client.get(f"/api/jobs/{job['id']}/files/sample_001.gif").content.startswith(b"GIF8")
    finally:
        server.stop()
    assert folder.name.startswith("vidgan-demo-") and not folder.exists()


class _StillGan(ToyGan):
    """A model that samples but cannot transfer."""

    transfer = None


class _StillPlugin:
    @hookimpl
    def vidgan_register_components(self, registry: Any) -> None:
        registry.add("model", "tr_still_gan", _StillGan, config=GanConfig)


def test_a_model_that_cannot_transfer_is_named_on_the_page(tmp_path):
    from vidgan_kit import VideoGeometry

    host = make_host(plugins=((_StillPlugin(), "still"),))
    geometry = VideoGeometry(frames=4, channels=3, height=8, width=8)
    model = host.registry.build("model", "tr_still_gan", {}, geometry=geometry, registry=host.registry)
    save_checkpoint(tmp_path / "still" / "checkpoints", model, step=1, registry=host.registry)
    server = start_in_thread(tmp_path / "still", registry=host.registry)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            state = client.get("/api/state").json()
            assert state["model"]["can_transfer"] is False and state["model"]["can_sample"] is True
            answer = client.post("/api/transfer", data={"image_example": "image-disc", "video_example": "video-swing"})
            assert answer.status_code == 400
            assert "'still' has a model that cannot transfer" in answer.json()["error"]
            job = _finish(client, client.post("/api/samples", data={"image_example": "image-disc", "k": "2"}).json())
            assert job["status"] == "done"  # and the server goes on
    finally:
        server.stop()
