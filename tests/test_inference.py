"""Inference pipelines from checkpoints: transfer and sampling, from tensors and from files."""

from __future__ import annotations

import logging

import pytest
import torch

from vidgan_kit import VideoGeometry
from vidgan_kit.checkpoint import save_checkpoint
from vidgan_kit.errors import CheckpointError, ShapeError, VidganError
from vidgan_kit.inference import Pipeline, best_matching_frame, compile_transfer, load_pipeline

from ._compiler import needs_cpp_compiler
from .training.toys import Gan, GanConfig, make_host

GEOMETRY = VideoGeometry(frames=4, channels=3, height=8, width=8)


@pytest.fixture
def saved(tmp_path):
    """A toy model with distinct raw and EMA generator weights, saved as a run's checkpoint."""
    host = make_host()
    model = host.registry.build("model", "tr_gan", {}, geometry=GEOMETRY, registry=host.registry)
    ema = host.registry.build("decoder", "tr_conv", {}, geometry=GEOMETRY)
    with torch.no_grad():
        for p in ema.parameters():
            p.mul_(0.5)
    save_checkpoint(tmp_path / "run" / "checkpoints", model, step=3, registry=host.registry,
                    ema={"generator": ema})
    return host, model.eval(), ema, tmp_path / "run"


def _silent(notes: list[str]):
    return notes.append


def test_transfer_and_sample_from_tensors(saved):
    host, model, _, run_dir = saved
    notes: list[str] = []
    pipe = load_pipeline(run_dir, registry=host.registry, use_ema=False, notes=_silent(notes))
    assert pipe.geometry == GEOMETRY and pipe.step == 3
    image = torch.rand(3, 8, 8) * 2 - 1
    video = torch.rand(4, 3, 8, 8) * 2 - 1

    out = pipe.transfer(image, video)
    assert out.shape == (4, 3, 8, 8)
    assert not out.is_inference()  # run in inference mode, handed back as an ordinary tensor
    out.mul_(1.0)  # ... that the caller may change in place
    with torch.no_grad():
        assert torch.equal(out, model.transfer(image[None], video[None])[0])

    clips = pipe.sample(image, n=3, seed=1)
    assert clips.shape == (3, 4, 3, 8, 8) and not clips.is_inference()
    assert torch.equal(clips, pipe.sample(image, n=3, seed=1))  # a seed gives the same clips
    assert not torch.equal(clips, pipe.sample(image, n=3, seed=2))
    assert notes == []  # inputs already fit: nothing to say


def test_ema_weights_are_used_by_default(saved):
    host, model, ema, run_dir = saved
    pipe = load_pipeline(run_dir, registry=host.registry, notes=_silent([]))
    for k, v in ema.state_dict().items():
        assert torch.equal(pipe.model.generator.state_dict()[k], v)
    raw = load_pipeline(run_dir, registry=host.registry, use_ema=False, notes=_silent([]))
    assert torch.equal(raw.model.generator.conv1.weight, model.generator.conv1.weight)


def test_inputs_are_checked(saved):
    host, _, _, run_dir = saved
    pipe = load_pipeline(run_dir, registry=host.registry, notes=_silent([]))
    image = torch.zeros(3, 8, 8)
    with pytest.raises(VidganError, match="2 frame.*at least 4"):
        pipe.transfer(image, torch.zeros(2, 3, 8, 8))
    with pytest.raises(ShapeError, match=r"\[-1, 1\]"):
        pipe.transfer(image * 0 + 255, torch.zeros(4, 3, 8, 8))
    with pytest.raises(ShapeError, match=r"\[C, H, W\]"):
        pipe.sample(torch.zeros(1, 3, 8, 8))


class NoiseGan(Gan):
    """The toy model, sampling unconditionally: its content is drawn with the motion; no transfer."""

    samples_from = "noise"
    transfer = None

    def sample(self, image: None, n: int, generator: torch.Generator) -> torch.Tensor:
        assert image is None, "an unconditional sample() got an image"
        content = torch.rand(1, *GEOMETRY.frame_shape, generator=generator) * 2 - 1
        return super().sample(content, n, generator)


def test_a_model_that_samples_from_noise_takes_no_image_and_a_conditional_one_needs_one(saved):
    host, model, _, run_dir = saved
    noise = Pipeline(NoiseGan(GanConfig(), geometry=GEOMETRY, registry=host.registry), notes=_silent([]))
    clips = noise.sample(n=3, seed=1)
    assert clips.shape == (3, 4, 3, 8, 8)
    assert torch.equal(clips, noise.sample(None, n=3, seed=1)) and not torch.equal(clips, noise.sample(n=3, seed=2))
    with pytest.raises(VidganError, match="samples unconditionally.*takes no image"):
        noise.sample(torch.zeros(3, 8, 8), n=2)
    conditional = load_pipeline(run_dir, registry=host.registry, notes=_silent([]))
    with pytest.raises(VidganError, match="'tr_gan' animates a given image: pass one"):
        conditional.sample(None, n=2)


def test_a_model_without_transfer_is_refused_in_one_line_that_names_it_and_suggests_generate(saved):
    host = saved[0]
    pipe = Pipeline(NoiseGan(GanConfig(), geometry=GEOMETRY, registry=host.registry), notes=_silent([]))
    with pytest.raises(VidganError, match=r"^model 'NoiseGan' cannot transfer motion.*`vidgan generate`") as caught:
        pipe.transfer(torch.zeros(3, 8, 8), torch.zeros(4, 3, 8, 8))
    assert "\n" not in str(caught.value)


def test_files_are_read_and_fitted_with_a_note(saved, tmp_path):
    io = pytest.importorskip("vidgan_kit.io")
    host, _, _, run_dir = saved
    image_path = tmp_path / "face.png"
    video_path = tmp_path / "drive.gif"
    io.write_image(image_path, torch.rand(3, 16, 16) * 2 - 1)
    io.write_video(video_path, torch.rand(6, 3, 16, 20) * 2 - 1, fps=8)
    notes: list[str] = []
    pipe = load_pipeline(run_dir, registry=host.registry, notes=notes.append)

    out = pipe.transfer(image_path, video_path, frames=4)  # the toy continues no motion past its clip
    assert out.shape == (4, 3, 8, 8) and out.abs().max() <= 1
    assert any("resized 16x16" in n for n in notes) and sum("resized 16x20" in n for n in notes) == 1
    with pytest.raises(VidganError, match=r"drive.gif' has 6 frames, but model 'tr_gan' animates at most 4.*--frames 4"):
        pipe.transfer(image_path, video_path)

    short = tmp_path / "short.gif"
    io.write_video(short, torch.zeros(2, 3, 8, 8), fps=8)
    with pytest.raises(VidganError, match="at least 4"):
        pipe.transfer(image_path, short)
    assert pipe.sample(str(image_path), n=2).shape == (2, 4, 3, 8, 8)


def test_model_options_change_what_changes_no_weights_and_nothing_else(saved):
    host, model, _, run_dir = saved
    pipe = load_pipeline(run_dir, registry=host.registry, use_ema=False, notes=_silent([]), options=["noise=0.25"])
    assert pipe.model.noise == 0.25 and model.noise != 0.25
    for k, v in model.state_dict().items():
        assert torch.equal(pipe.model.state_dict()[k], v)
    with pytest.raises(CheckpointError, match="do not fit"):  # an option that changes the weights' shapes
        load_pipeline(run_dir, registry=host.registry, notes=_silent([]), options=["generator.hidden=4"])
    with pytest.raises(VidganError, match=r"no slot 'decoder'.*discriminator, generator"):
        load_pipeline(run_dir, registry=host.registry, notes=_silent([]), options=["decoder.hidden=4"])
    with pytest.raises(CheckpointError, match="no longer validates"):
        load_pipeline(run_dir, registry=host.registry, notes=_silent([]), options=["generator.no_such_option=1"])


@needs_cpp_compiler
def test_a_compiled_pipeline_gives_the_eager_frames(saved):
    host, _, _, run_dir = saved
    eager = load_pipeline(run_dir, registry=host.registry, notes=_silent([]))
    compiled = load_pipeline(run_dir, registry=host.registry, notes=_silent([]), compile=True)
    image = torch.rand(3, 8, 8) * 2 - 1
    video = torch.rand(4, 3, 8, 8) * 2 - 1
    torch.testing.assert_close(compiled.transfer(image, video), eager.transfer(image, video), rtol=0, atol=1e-5)
    built = compiled._compiled_transfer
    assert built is not None  # one compiled transfer ...
    compiled.transfer(image, video)
    assert compiled._compiled_transfer is built  # ... reused by every call


def test_inductors_missing_c_shim_warnings_are_dropped_and_nothing_else():
    """The C++ wrapper's build warns once per operator without a C shim (plumbing, not the
    user's business); every other record of that logger passes, and the filter goes on once."""
    log = logging.getLogger("torch._inductor.ir")
    compile_transfer(lambda x: x, "cpu")
    compile_transfer(lambda x: x, "cpu")
    assert sum(type(f).__name__ == "_CShimNotes" for f in log.filters) == 1

    def record(msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(log.name, logging.WARNING, __file__, 1, msg, args, None)

    assert not log.filter(record("%s is missing a c-shim implementation, using proxy executor as fallback", "aten.x"))
    assert log.filter(record("something else went wrong in %s", "aten.x"))


def test_the_best_frame_is_the_one_that_is_the_target():
    frames = torch.rand(7, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    target = frames[4].clone()
    assert best_matching_frame(target, frames) == 4
    assert best_matching_frame(target * 0.5 + 0.1, frames) == 4  # brightness and contrast do not count
    assert best_matching_frame(frames[0], frames) == 0


def test_best_frame_runs_forward_and_backward_from_the_frame_like_the_target(saved):
    host, model, _, run_dir = saved
    notes: list[str] = []
    pipe = load_pipeline(run_dir, registry=host.registry, use_ema=False, notes=notes.append)
    video = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    image = video[2].clone()
    out = pipe.transfer(image, video, best_frame=True)
    assert out.shape == (4, 3, 8, 8) and any("its frame 2" in n for n in notes)
    with torch.no_grad():  # frames 2, 1, 0 (the rest held) backward, then 2, 3 forward
        backward = model.transfer(image[None], video[None, [2, 1, 0, 0]])[0]
        forward = model.transfer(image[None], video[None, [2, 3, 3, 3]])[0]
    torch.testing.assert_close(out, torch.cat([backward[:3].flip(0), forward[1:2]]).clamp(-1, 1))


class _Framewise(Gan):
    """The toy drawn frame by frame: it continues any length, with both motion modes."""

    motion_modes = ("relative", "absolute")

    def window_support(self):  # noqa: ANN201
        return None

    def transfer_windows(self, image, windows, *, motion="relative"):  # noqa: ANN001, ANN201
        first, done = None, 0
        for start, clip in windows:
            first = clip[:, :1] if first is None else first
            drive = clip - first + image[:, None] if motion == "relative" else clip
            yield self.transfer(image, drive)[:, done - start :]
            done = start + clip.shape[1]


def test_motion_modes_reach_a_model_that_has_them(saved):
    host, _, _, _ = saved
    toy = _Framewise(GanConfig(), geometry=GEOMETRY, registry=host.registry).eval()
    pipe = Pipeline(toy, notes=[].append)
    image = torch.rand(3, 8, 8) * 2 - 1
    video = torch.rand(11, 3, 8, 8) * 2 - 1
    absolute = pipe.transfer(image, video, motion="absolute")
    relative = pipe.transfer(image, video, motion="relative")
    assert absolute.shape == relative.shape == (11, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(absolute, toy.transfer(image[None], video[None])[0].clamp(-1, 1))
        moved = video - video[:1] + image
        torch.testing.assert_close(relative, toy.transfer(image[None], moved[None])[0].clamp(-1, 1))
    with pytest.raises(VidganError, match="motion 'mirrored': model .* offers relative, absolute"):
        pipe.transfer(image, video, motion="mirrored")
