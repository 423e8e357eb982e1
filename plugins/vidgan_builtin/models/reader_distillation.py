"""A source reader distilled into a finished run's layered E_C, written as a new checkpoint.

A transfer reads its 16 source frames' part masks with E_C; a narrower network trained to give
E_C's masks (``layered_content_encoder.source_reader_width``) reads them for a fraction of
the arithmetic. Trained with the model it lagged behind E_C (its target moves while E_C learns);
distilled afterwards, E_C frozen, a width-16 reader read the source as well as E_C on two seeds
and took about 1.5 ms off a compiled 64×64 transfer (``benchmarks/RESULTS.md``, twenty-fourth
session). ``vidgan distill-reader`` runs :func:`distil_source_reader`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vidgan_kit import ComponentSpec, VideoGeometry
from vidgan_kit.checkpoint import build_model, latest_checkpoint, load_weights, read_index, save_checkpoint, with_model_options
from vidgan_kit.errors import VidganError
from vidgan_kit.interfaces import LossContext
from vidgan_kit.recipe import Recipe

from ..networks.sprites import LayeredContentEncoder

__all__ = ["distil", "distil_source_reader", "training_clips", "with_reader"]


def with_reader(
    encoder: LayeredContentEncoder, width: int, registry: Any, read_source_with: str = "encoder", norm: str = "none",
) -> Any:
    """``encoder``'s component with a fresh source reader of ``width`` and normalisation ``norm``
    (drawn from its own random numbers, as the recipe option draws it) and ``read_source_with``
    set; E_C's weights copied."""
    if not isinstance(encoder, LayeredContentEncoder):
        raise VidganError(f"only layered_content_encoder has a source reader; this run's E_C is {type(encoder).__name__}")
    if encoder.source_reader is not None:
        raise VidganError("this run's content encoder has a source reader already")
    params = {**encoder.config.model_dump(), "source_reader_width": width, "source_reader_norm": norm,
              "read_source_with": read_source_with}
    reading = registry.build("encoder", "layered_content_encoder", params, geometry=encoder.geometry)
    missing, unexpected = reading.load_state_dict(encoder.state_dict(), strict=False)
    if unexpected or any(not key.startswith("source_reader.") for key in missing):
        raise VidganError(f"E_C's weights do not fit the encoder with a reader: missing {missing}, unexpected {unexpected}")
    return reading


def distil(
    model: Any, train_set: Any, registry: Any, steps: int, clips: int, lr: float,
    progress: Callable[[int, float], Any] | None = None,
) -> list[float]:
    """Trains ``model.content_encoder``'s source reader alone, E_C frozen, with the
    ``source_reader`` loss on every frame of ``clips`` training clips a step (taken in order,
    wrapping around), Adam at ``lr``. Returns L_read at step 0, every 500 steps and the last;
    ``progress(step, loss)`` is called with each of them."""
    encoder = model.content_encoder
    reader = encoder.source_reader
    loss_fn = registry.build("loss", "source_reader", {})
    optimizer = torch.optim.Adam(reader.parameters(), lr)
    encoder.eval()
    reader.train()
    losses = []
    for step in range(steps):
        first = step * clips
        video = torch.stack([train_set.clip(i % len(train_set)) for i in range(first, first + clips)])
        with torch.no_grad():
            codes = encoder(video.flatten(0, 1)).view(*video.shape[:2], *encoder.code_shape)
        ctx = LossContext(model=model, batch={"video": video}, outputs={"video": video, "content_codes": codes})
        loss = loss_fn(ctx, "generator")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 500 == 0 or step == steps - 1:
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(step, losses[-1])
    reader.eval()
    return losses


def _saved_recipe(index: dict[str, Any]) -> Recipe:
    if not index.get("recipe"):
        raise VidganError(f"{index['path']} has no recipe saved: its training data are unknown")
    return Recipe.model_validate(index["recipe"])


def training_clips(index: dict[str, Any], registry: Any) -> Any:
    """The training split of the data set a checkpoint's run trained on (its index: ``read_index``)."""
    recipe = _saved_recipe(index)
    return registry.build("dataset", recipe.data, geometry=VideoGeometry(**index["geometry"]), split="train",
                          seed=recipe.seed)


def distil_source_reader(
    run: str | Path, out: str | Path, *, registry: Any, width: int = 16, norm: str = "none", steps: int = 7000,
    clips: int = 8, lr: float = 2e-3, seed: int = 0, progress: Callable[[int, float], Any] | None = None,
) -> Path:
    """Distils a source reader of ``width`` and normalisation ``norm`` into the layered E_C of
    ``run``'s latest checkpoint (its EMA E_C where the run keeps one: the weights a transfer
    uses) and writes a new run folder ``out`` whose checkpoint reads a transfer's source with it
    (``read_source_with = "reader"``): every other weight, raw and EMA, as in ``run``; the same
    distilled reader in the raw and the EMA E_C. The training clips are the run's own data set's. ``out`` must not
    exist or be empty: nothing is overwritten. Returns the new checkpoint's path."""
    if min(width, steps, clips) < 1 or not lr > 0:
        raise VidganError(f"width, steps and clips must be >= 1 and lr > 0 (got {width}, {steps}, {clips}, {lr})")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise VidganError(f"{out} exists and is not an empty folder; choose another --out (nothing is overwritten)")
    checkpoint = latest_checkpoint(run)
    index = read_index(checkpoint)
    recipe = _saved_recipe(index)
    raw = build_model(index, registry)
    load_weights(raw, checkpoint)
    ema_slots = list(index.get("ema_slots") or [])
    ema = None
    if ema_slots:
        ema = build_model(index, registry)
        load_weights(ema, checkpoint, use_ema=True)
    teacher = ema or raw
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        teacher.content_encoder = with_reader(teacher.content_encoder, width, registry, "reader", norm)
    distil(teacher, training_clips(index, registry), registry, steps, clips, lr, progress)
    if ema is not None:
        distilled = teacher.content_encoder.source_reader.state_dict()
        raw.content_encoder = with_reader(raw.content_encoder, width, registry, "reader", norm)
        raw.content_encoder.source_reader.load_state_dict(distilled)
    options = [f"content_encoder.source_reader_width={width}", f'content_encoder.source_reader_norm="{norm}"',
               'content_encoder.read_source_with="reader"']
    spec = ComponentSpec.model_validate(with_model_options(index["model"], options))
    raw.component_spec = spec  # what a later load rebuilds: E_C with its reader
    return save_checkpoint(
        out / "checkpoints", raw, step=int(index["step"]), registry=registry,
        recipe=recipe.model_copy(update={"model": spec}),
        ema={slot: ema.slots()[slot] for slot in ema_slots} if ema is not None else None,
    )
