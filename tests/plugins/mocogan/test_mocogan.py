"""The MoCoGAN family: its registration, its components' contracts, what R_M, D_I and the
assembly promise, and a tiny recipe trained, sampled in both modes and evaluated end to end."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import vidgan_mocogan.plugin as family_plugin
from vidgan_kit import PluginHost, VideoGeometry, load_registry
from vidgan_kit.cli import build_app
from vidgan_kit.cli._common import reset_state
from vidgan_kit.config import slot_fields
from vidgan_kit.errors import VidganError
from vidgan_kit.inference import load_pipeline
from vidgan_kit.io import read_video, write_image
from vidgan_kit.recipe import apply_overrides, read_recipe_table, validate_recipe
from vidgan_kit.testing import ContractSettings, check_component
from vidgan_kit.training import train
from vidgan_mocogan import MoCoGANConfig

from tests.plugins.losses.loss_context import assert_no_schedule_options, assert_registered

REPO = Path(__file__).resolve().parents[3]
FAMILY = {("model", "mocogan"), ("temporal_generator", "gru_motion_generator"),
          ("discriminator", "frame_discriminator"), ("loss", "frame_adversarial")}
G = VideoGeometry(frames=4, channels=3, height=16, width=16)
REGISTRY = load_registry()
TINY_MODEL = {"content_dim": 8, "motion_dim": 4, "content_encoder": {"type": "conv_content_encoder", "base_channels": 4,
              "content_dim": 8}, "temporal_generator": {"type": "gru_motion_generator", "frame_code_dim": 6,
              "noise_dim": 3}, "decoder": {"type": "conv_frame_decoder", "base_channels": 4},
              "image_discriminator": {"type": "frame_discriminator", "base_channels": 4},
              "video_discriminator": {"type": "conv3d_video_discriminator", "base_channels": 4}}


def model(content: str = "noise", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return REGISTRY.build("model", "mocogan", {**TINY_MODEL, "content": content}, geometry=G, registry=REGISTRY)


# -- registration -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def family():
    host = PluginHost(env={})
    host.add_plugin(family_plugin, "mocogan", distribution="vidgan-kit")
    return host.register_components()


def test_the_plugin_registers_the_family_and_nothing_else(family):
    assert {(e.kind, e.name) for e in family} == FAMILY
    for entry in family:
        assert entry.plugin == "mocogan" and entry.summary
        for name, field in entry.config_model.model_fields.items():
            assert field.description or name in slot_fields(MoCoGANConfig), f"{entry.name}.{name} has no description"
    assert_registered(family, {"frame_adversarial": ("generator", "discriminator")}, "mocogan")
    assert_no_schedule_options(family, {"frame_adversarial": ("generator", "discriminator")})


def test_pyproject_announces_the_family():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["vidgan_kit"]["mocogan"] == "vidgan_mocogan.plugin"


# -- contracts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,name,params", [("temporal_generator", "gru_motion_generator", {}),
                                              ("discriminator", "frame_discriminator", {"base_channels": 4})])
def test_the_networks_honour_their_kinds_contracts(kind, name, params):
    check_component(kind, name, params, registry=REGISTRY)


@pytest.mark.parametrize("content", ["noise", "image"])
def test_the_model_and_its_losses_honour_the_contracts(content):
    s = ContractSettings(geometry=G)
    params = {**TINY_MODEL, "content": content}
    check_component("model", "mocogan", params, registry=REGISTRY, settings=s)
    m = REGISTRY.build("model", "mocogan", params, geometry=G, registry=REGISTRY)
    check_component("loss", "frame_adversarial", registry=REGISTRY, settings=s, model=m)
    check_component("loss", "video_adversarial", {"fakes": ["sample"]}, registry=REGISTRY, settings=s, model=m)
    if content == "image":
        check_component("loss", "reconstruction", {"frames": "first"}, registry=REGISTRY, settings=s, model=m)


# -- R_M, D_I and the assembly --------------------------------------------------------------------


def test_r_m_follows_its_start_and_its_per_frame_noise():
    gen = model().temporal_generator
    z, noise = torch.randn(2, 4), torch.randn(2, 5, 3)
    codes = gen(z, 5, noise)
    assert codes.shape == (2, 5, 6) and torch.equal(codes, gen(z, 5, noise))
    other = noise.clone()
    other[:, 3] += 1.0  # a different innovation at frame 4 changes frames 4 on, not before
    moved = gen(z, 5, other)
    assert torch.equal(moved[:, :3], codes[:, :3]) and not torch.allclose(moved[:, 3:], codes[:, 3:])
    assert not torch.allclose(gen(z + 1, 5, noise)[:, 0], codes[:, 0])  # the start sets frame 1 already
    with pytest.raises(VidganError, match=r"noise \[2, 5, 3\]"):
        gen(z, 5, torch.randn(2, 4, 3))


def test_d_i_judges_the_frame_and_never_reads_a_condition():
    disc = model().image_discriminator.eval()  # spectral norm updates its estimate on every call in training
    frames = torch.rand(3, *G.frame_shape) * 2 - 1
    assert torch.equal(disc(None, frames), disc(torch.rand_like(frames), frames))
    assert not torch.equal(disc(None, frames), disc(None, frames.flip(-1)))


def test_the_content_is_held_for_the_clip_and_the_motion_varies():
    """One z_C per clip: two samples share content but not motion when only R_M's draws differ."""
    m = model("image").eval()
    image = torch.rand(1, *G.frame_shape) * 2 - 1
    a = m.sample(image, 2, torch.Generator().manual_seed(1))
    assert a.shape == (1, 2, *G.clip_shape)
    assert not torch.equal(a[0, 0], a[0, 1])  # same image, two trajectories
    other = m.sample(-image, 2, torch.Generator().manual_seed(1))
    assert not torch.equal(a, other)  # same draws, another image: another content


def test_sampling_checks_what_it_is_given():
    with pytest.raises(VidganError, match="takes no image"):
        model("noise").sample(torch.zeros(1, *G.frame_shape), 2)
    with pytest.raises(VidganError, match="takes an image"):
        model("image").sample(None, 2)
    assert model("noise").samples_from == "noise" and model("image").samples_from == "image"
    assert "content_encoder" not in model("noise").slots() and "content_encoder" in model("image").slots()


# -- a tiny recipe, trained, sampled, evaluated ---------------------------------------------------


def tiny_recipe(path: Path, *overrides: str):
    table = read_recipe_table(path)
    table["model"] = {**table["model"], **TINY_MODEL, "content": table["model"]["content"]}
    sets = ["video.frames=4", "video.height=16", "video.width=16", "loader.batch_size=4", "train.steps=3",
            "train.threads=1", "train.sample_every=0", "train.checkpoint_every=3", "train.log_every=1",
            "data.type=synthetic_shapes", *overrides]
    if "root" in table["data"]:  # the Weizmann recipe's model on synthetic clips (tests never read real data)
        table["data"] = {"type": "synthetic_shapes"}
    return validate_recipe(apply_overrides(table, sets), REGISTRY, source=str(path))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Both shipped recipes at toy size, three steps each."""
    out = {}
    host = PluginHost.create()
    for name in ("mocogan", "mocogan_weizmann"):
        out[name] = tmp_path_factory.mktemp(name) / "run"
        train(tiny_recipe(REPO / "recipes" / f"{name}.toml"), host=host, run_dir=out[name], quiet=True)
    return out


def cli(*args: str | Path):
    reset_state()
    try:
        return CliRunner().invoke(build_app(), [str(a) for a in args])
    finally:
        reset_state()


def test_the_tiny_recipes_train_and_step_every_term(runs):
    import json

    for name, run in runs.items():
        log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        last = log[-1]
        assert last["step"] == 3
        keys = {"loss/discriminator/image_adversarial", "loss/generator/video_adversarial"}
        if name == "mocogan_weizmann":
            keys.add("loss/generator/reconstruction")
        assert keys <= set(last), f"{name}: {sorted(last)}"


def test_generate_in_both_modes_and_transfer_refused(runs, tmp_path):
    noise, image = runs["mocogan"], runs["mocogan_weizmann"]
    result = cli("generate", noise, "-n", "3", "--out", tmp_path / "free", "--format", "gif")
    assert result.exit_code == 0, result.output
    clips = [read_video(tmp_path / "free" / f"sample_{i:03d}.gif") for i in range(3)]
    assert all(c.shape == (4, 3, 16, 16) for c in clips) and not torch.equal(clips[0], clips[1])
    y = write_image(tmp_path / "y.png", torch.rand(3, 16, 16) * 2 - 1)
    result = cli("generate", image, "--image", y, "-n", "2", "--out", tmp_path / "i2v")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "i2v" / "sample_001.mp4").is_file()

    result = cli("generate", noise, "--image", y, "-n", "2", "--out", tmp_path / "wrong")
    assert result.exit_code != 0 and "takes no image" in result.output and not (tmp_path / "wrong").exists()
    result = cli("generate", image, "-n", "2", "--out", tmp_path / "none")
    assert result.exit_code != 0 and "pass one (--image)" in result.output
    result = cli("transfer", image, "--image", y, "--video", tmp_path / "free" / "sample_000.gif", "--out",
                 tmp_path / "t.mp4")
    assert result.exit_code != 0 and "'mocogan' cannot transfer motion" in result.output
    assert "vidgan generate" in result.output and not (tmp_path / "t.mp4").exists()


def test_a_sample_of_the_pipeline_depends_on_its_seed_alone(runs):
    pipe = load_pipeline(runs["mocogan"], registry=REGISTRY, notes=lambda _m: None)
    torch.manual_seed(1)
    a = pipe.sample(n=2, seed=3)
    torch.manual_seed(2)
    assert torch.equal(a, pipe.sample(n=2, seed=3)) and not torch.equal(a, pipe.sample(n=2, seed=4))


def test_eval_paper_protocol_on_the_image_variant_and_plain_refusals(runs, tmp_path):
    result = cli("eval", runs["mocogan_weizmann"], "--out", tmp_path / "ev", "--no-fvd", "--clips", "3",
                 "--samples", "2")
    assert result.exit_code == 0, result.output
    card = (tmp_path / "ev" / "metric_card.json").read_text()
    assert '"best_of_k"' in card or "best of 2 SSIM" in result.output
    assert "does not reconstruct its input clip" in card
    result = cli("eval", runs["mocogan_weizmann"], "--out", tmp_path / "tr", "--protocol", "transfer", "--no-fvd")
    assert result.exit_code != 0 and "'mocogan' cannot transfer motion" in result.output
    result = cli("eval", runs["mocogan"], "--out", tmp_path / "un", "--no-fvd")
    assert result.exit_code != 0 and "samples unconditionally" in result.output
