"""``vidgan distill-reader``: a finished layered run given a source reader, as a new run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from .conftest import TINY, TINY_GEOMETRY, Invoke
from .test_run_e2e import slot_weights

pytestmark = pytest.mark.slow


def layered_run(run_dir: Path) -> None:
    """The tiny recipe with the layered content path, EMA from step 0, trained to its end."""
    from vidgan_kit.recipe import read_recipe_table, validate_recipe
    from vidgan_kit.training import train

    from .conftest import make_host

    host = make_host()
    table = read_recipe_table(TINY)
    table["model"]["content_encoder"] = {"type": "layered_content_encoder", "width": 4}
    table["model"]["decoder"] = {"type": "sprite_frame_decoder", "boundary": "reflect", "source_bounces": "unfold",
                                 "source_path": "parts", "unfold_turns_from": "parts"}
    table["train"] = {**table.get("train", {}), "ema": {"enabled": True, "start": 0, "decay": 0.5}}
    train(validate_recipe(table, host.registry, source=str(TINY)), host=host, run_dir=run_dir, quiet=True)


def folder_bytes(folder: Path) -> dict[Path, bytes]:
    """Every file under ``folder`` with its bytes: a snapshot to show that nothing in it changed."""
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_distill_reader_writes_a_new_run_that_reads_the_source_with_the_reader(cli: Invoke, tmp_path: Path) -> None:
    """The new run's checkpoint rebuilds E_C with a reader that reads a transfer's source; every
    other weight, raw and EMA, is the run's, the raw and the EMA E_C carry the same reader, and
    the run itself is left byte for byte as it was. A second call into the same folder, a run
    whose E_C has a reader already and a learning rate of 0 are refused."""
    from vidgan_kit.inference import load_pipeline

    from .conftest import make_host

    run_dir, new_dir = tmp_path / "run", tmp_path / "distilled"
    layered_run(run_dir)
    files = folder_bytes(run_dir)

    result = cli("distill-reader", run_dir, "--out", new_dir, "--width", "2", "--steps", "30", "--clips", "2")
    assert result.exit_code == 0, result.output
    assert folder_bytes(run_dir) == files

    for rel, a, b in slot_weights(run_dir, new_dir):
        own = {k for k in b if k.startswith("source_reader.")}
        assert bool(own) == ("content_encoder" in rel.parts), rel
        assert a.keys() == b.keys() - own and all(torch.equal(a[k], b[k]) for k in a), rel
    readers = [{k: v for k, v in b.items() if k.startswith("source_reader.")}
               for rel, _, b in slot_weights(run_dir, new_dir) if "content_encoder" in rel.parts]
    assert len(readers) == 2 and all(torch.equal(readers[0][k], readers[1][k]) for k in readers[0])

    host = make_host()
    pipe = load_pipeline(new_dir, registry=host.registry, notes=lambda message: None)
    encoder = pipe.model.content_encoder
    assert (encoder.config.source_reader_width, encoder.config.read_source_with) == (2, "reader")
    assert encoder.config.source_reader_norm == "none"  # the command's default: no GroupNorm to pay for
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in encoder.source_reader.modules())
    clip = torch.rand(TINY_GEOMETRY.frames, 3, TINY_GEOMETRY.height, TINY_GEOMETRY.width) * 2 - 1
    with_reader = pipe.transfer(clip[0], clip)
    plain = load_pipeline(new_dir, registry=host.registry, notes=lambda message: None,
                          options=['content_encoder.read_source_with="encoder"'])
    assert with_reader.shape == clip.shape and not torch.equal(with_reader, plain.transfer(clip[0], clip))

    again = cli("distill-reader", run_dir, "--out", new_dir, "--steps", "1")
    assert again.exit_code == 2 and "nothing is overwritten" in again.output
    twice = cli("distill-reader", new_dir, "--out", tmp_path / "twice", "--steps", "1")
    assert twice.exit_code == 2 and "source reader already" in twice.output
    no_rate = cli("distill-reader", run_dir, "--out", tmp_path / "no-rate", "--lr", "0")
    assert no_rate.exit_code == 2 and "lr > 0" in no_rate.output and not (tmp_path / "no-rate").exists()
