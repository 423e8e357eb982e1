"""The generic training loop. Read it top to bottom; it knows no concrete network.

Everything model-specific arrives through the registry: the dataset, the model assembly
(whose ``parameter_groups()`` decide what each optimiser owns) and the losses. What one
iteration does is data, StyleGAN3-style: ``recipe.phases`` lists the optimisation steps
(discriminator, generator, a lazy regulariser every 16 iterations, ...), each loss term
declares the phases it feeds, and the recipe gives each term a weight and a schedule.

One iteration:

1. take the next batch (the order is a pure function of seed and epoch, see ``data.py``);
2. run the model's forward once; every phase's losses read its outputs through a shared
   :class:`~vidgan_kit.interfaces.LossContext` (losses may cache work in ``ctx.cache``);
3. for each phase due at this step: sum its weighted terms, freeze the other groups,
   backward, clip, step that phase's optimiser;
4. update the EMA, log, preview, checkpoint.

Resuming reproduces the uninterrupted run bit for bit on the same machine: the weights,
optimiser moments, loss-scaler, EMA, every RNG state and the data position are saved, and
nothing outside the training step (logging, previews, hooks) draws from the training's
random streams.

Several processes (``torchrun``, see :mod:`vidgan_kit.distributed`) run this same loop in
lockstep: each takes its own shard of every epoch and its own noise, averages each phase's
gradients with the others before stepping, so all ranks keep identical weights; rank 0
alone writes files. A single process skips every collective.
"""

from __future__ import annotations

import math
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import checkpoint_name, list_checkpoints, read_index, remove_unfinished
from ..distributed import World, average_gradients, convert_sync_batchnorm, leave_without_waiting, lr_factor, record_failure
from ..errors import VidganError
from ..eval.validation import validate, validation_dataset
from ..interfaces import LossContext, ModelAssembly
from ..io import video_grid, write_video
from ..plugins import PluginHost
from ..recipe import OptimizerSpec, PhaseSpec, Recipe
from ..registry import ComponentRegistry
from .best import KeepBest
from .data import BatchStream, fixed_batch
from .device import autocast, check_precision, make_grad_scaler, move_to_device, resolve_device, to_channels_last
from .ema import EMA
from .health import HealthWatch
from .logging import DurationEstimate, MetricsLogger, ProgressDisplay, quiet_from_env, truncate_metrics
from .memory import reuse_freed_memory
from .optim import build_optimizers, check_groups, clip_gradients
from .resume import TrainingState
from .run import RunContext, check_resume_recipe, prepare_run_dir, write_run_files
from .seeding import DeterminismSettings, isolated_rng, rank_seed, seed_everything

__all__ = ["train", "write_samples", "PREVIEW_CLIPS"]

#: Clips in the fixed preview batch (rows of the sample grid show this many clips each).
PREVIEW_CLIPS = 8


def train(
    recipe: Recipe,
    *,
    host: PluginHost,
    run_dir: str | Path,
    resume: bool = False,
    max_steps: int | None = None,
    recipe_text: str | None = None,
    quiet: bool | None = None,
) -> RunContext:
    """Train ``recipe``'s model in ``run_dir``; returns the run's context at the end.

    :param host: the plugin host whose registry builds the components and whose hooks
        hear about the run.
    :param run_dir: the run directory. It must be empty or absent unless ``resume``.
    :param resume: continue the run in ``run_dir`` from its latest complete checkpoint
        (an empty or absent directory simply starts a new run, so a re-queued job can
        always pass it). The recipe must equal the saved one except ``train.steps``.
    :param max_steps: stop once this many steps are done, as a preemption would: no final
        checkpoint, status ``"interrupted"``. For tests and time-sliced jobs.
    :param recipe_text: the recipe's TOML source, saved as ``recipe.toml``.
    :param quiet: no progress display (default: the ``VIDGAN_QUIET`` environment variable).

    Started by torchrun (``WORLD_SIZE`` > 1 in the environment), or in a process group the
    caller has started, every process calls ``train`` with the same arguments; they join
    the process group here and train together (see :mod:`vidgan_kit.distributed`).
    """
    cfg = recipe.train
    # ---- which process of how many; the device follows from the local rank ----
    world = World.from_env()
    try:
        device = resolve_device(cfg.device, local_rank=world.local_rank, world_size=world.world_size)
        world.start(cfg.distributed, device)
        with reuse_freed_memory(cfg.reuse_cpu_memory and device.type == "cpu"):  # elsewhere the device's allocator keeps memory
            return _train(recipe, world, device, host=host, run_dir=Path(run_dir), resume=resume, max_steps=max_steps,
                          recipe_text=recipe_text, quiet=quiet_from_env() if quiet is None else quiet)
    except BaseException as exc:
        if world.enabled:
            leave_without_waiting()
            if not isinstance(exc, KeyboardInterrupt):
                record_failure(exc)  # torchrun's summary shows this rank's error
        raise


def _train(
    recipe: Recipe, world: World, device: torch.device, *, host: PluginHost, run_dir: Path, resume: bool,
    max_steps: int | None, recipe_text: str | None, quiet: bool,
) -> RunContext:
    cfg = recipe.train
    registry = host.registry
    geometry = recipe.video.geometry()
    had_run, start_step, resume_from = _plan_run(recipe, registry, world, run_dir, resume)
    check_precision(device, cfg.precision)

    previous_settings = DeterminismSettings.current()
    DeterminismSettings.apply(cfg.deterministic, cfg.threads)
    try:
        # ---- seeds first: initial weights and everything else below derive from them ----
        # (the same seed on every rank: identical initial weights)
        seed_everything(recipe.seed)

        # ---- data: each rank its own shard of every epoch ----
        dataset = registry.build("dataset", recipe.data, geometry=geometry, split="train", seed=recipe.seed)
        stream = BatchStream(dataset, recipe.loader, recipe.seed, pin_memory=device.type == "cuda",
                             rank=world.rank, world_size=world.world_size)
        # Previews always show the same clips, so grids from different steps compare.
        preview_batch = (fixed_batch(dataset, min(recipe.loader.batch_size, PREVIEW_CLIPS))
                         if cfg.sample_every and world.is_main else None)
        # Validation scores the same test clips with the same seeds every time (rank 0 only).
        val_dataset = validation_dataset(registry, recipe) if cfg.validate_every and world.is_main else None
        best = KeepBest(run_dir, cfg.validate_metric, enabled=cfg.keep_best)

        # ---- model, losses, optimisers ----
        model = _build_model(recipe, registry, world, device)
        groups = model.parameter_groups()
        check_groups(recipe, groups)
        losses, phase_terms = _build_losses(recipe, registry, device)
        optimizers = build_optimizers(recipe, groups, lr_scale=lr_factor(cfg.distributed.lr_scaling, world.world_size),
                                      names={id(p): n for n, p in model.named_parameters()})
        # Exactly the parameters each optimiser steps, in its order: what a phase averages.
        stepped = {g: [p for pg in opt.param_groups for p in pg["params"]] for g, opt in optimizers.items()}
        for phase in recipe.phases:
            if phase.param_group not in optimizers:
                raise VidganError(
                    f"Phase {phase.name!r} optimises group {phase.param_group!r}, which has no trainable parameters."
                )
        grad_clip = {g: recipe.optimizers.get(g, OptimizerSpec()).grad_clip for g in optimizers}
        scaler = make_grad_scaler(device, cfg.precision)
        ema = _make_ema(model, recipe)

        # ---- resume: restore every piece of state, the RNGs last ----
        state = TrainingState(model, losses, optimizers, scaler, ema, stream, world)
        if resume_from is not None:
            state.restore(resume_from, seed=recipe.seed, step=start_step)
        elif world.rank > 0:
            # Every rank has built the same model from the same seed; from here on each
            # draws its own noise (z ~ N(0, I), reparameterisation, dropout). Rank 0 goes
            # on with the recipe's streams, exactly as a single process would.
            seed_everything(rank_seed(recipe.seed, world.rank))

        if world.is_main:
            world_info = {"world_size": world.world_size, "backend": world.backend,
                          "lr_scale": lr_factor(cfg.distributed.lr_scaling, world.world_size)}
            write_run_files(run_dir, recipe, recipe_text, host, device, start_step if had_run else None, world_info)
            if had_run:
                truncate_metrics(run_dir / "metrics.jsonl", start_step)
        run = RunContext(run_dir=run_dir, recipe=recipe, model=model, step=start_step, is_main=world.is_main,
                         registry=registry, host=host, device=device, last_checkpoint=resume_from,
                         rank=world.rank, world_size=world.world_size)
    except BaseException:
        previous_settings.restore()
        raise

    saved_step = start_step if resume_from is not None else None

    def save(step: int) -> None:
        """Every rank calls it; rank 0 writes, then the plugins hear of it."""
        nonlocal saved_step
        saved_step = step
        path = state.save(run.checkpoints_dir, step, registry=registry, recipe=recipe, keep=cfg.keep_checkpoints)
        run.last_checkpoint = path or run.checkpoints_dir / checkpoint_name(step)  # other ranks: rank 0 is writing it
        if path is not None:
            with isolated_rng(device):
                host.hook.vidgan_checkpoint_saved(run=run, step=step, path=path)

    # ---- the loop ----
    end = cfg.steps if max_steps is None else min(cfg.steps, max_steps)
    logger = MetricsLogger(run_dir, enabled=run.is_main, tensorboard=cfg.tensorboard)
    step = start_step
    status, error = "failed", None
    out_of_time = False
    try:
        # Hooks run with the RNGs set aside: a plugin cannot change what the run learns.
        with isolated_rng(device):
            host.hook.vidgan_train_start(run=run)
        deadline = time.monotonic() + cfg.max_minutes * 60 if cfg.max_minutes > 0 else math.inf
        health = HealthWatch(model, enabled=run.is_main)
        # The expected duration, from the wall time of this run's own first steps.
        estimate = DurationEstimate(start_step, end, device.type)
        with ProgressDisplay(cfg.steps, start_step, enabled=run.is_main, quiet=quiet,
                             extra_keys=tuple(model.progress_keys)) as progress:
            while step < end:
                # All ranks stop together: rank clocks differ, the decision must not.
                if deadline < math.inf and world.any(time.monotonic() >= deadline):
                    # A time budget ends the run like reaching `steps`: with a checkpoint.
                    out_of_time = True
                    if saved_step != step:
                        save(step)
                    break
                t0 = time.perf_counter()
                batch = move_to_device(next(stream), device)

                # One forward of the model per iteration, under autocast; every phase's
                # losses see the same outputs (and may share work through ctx.cache).
                with autocast(device, cfg.precision):
                    outputs = model(batch)
                ctx = LossContext(model=model, batch=batch, outputs=outputs, step=step)

                due = _due_phases(recipe, phase_terms, step)
                logged: dict[str, torch.Tensor] = {}
                for i, (phase, terms) in enumerate(due):
                    group = phase.param_group
                    total, parts = _phase_backward(phase, terms, ctx, losses, groups, optimizers[group], scaler, device,
                                                   cfg.precision, keep_graph=i < len(due) - 1)
                    # Average this group's gradients over the ranks (a no-op when alone):
                    # every rank then takes the same step and the weights stay identical.
                    average_gradients(stepped[group], world)
                    if grad_clip[group] > 0:
                        scaler.unscale_(optimizers[group])  # clip the true gradients, not the scaled ones
                        logged[f"grad_norm/{group}"] = clip_gradients(optimizers[group], grad_clip[group])
                    scaler.step(optimizers[group])
                    for n, value in parts.items():
                        logged[f"loss/{phase.name}/{n}"] = value.detach()
                    logged[f"loss/{phase.name}"] = total.detach()
                scaler.update()  # once per iteration, after every optimiser has stepped
                # Buffers (BatchNorm statistics) saw only this rank's batch: take rank 0's,
                # as DDP does, so every rank holds the same full state.
                world.broadcast_module(model, parameters=False)

                # The EMA is kept on every rank: its inputs are identical, so are its weights.
                if ema is not None:
                    ema.update(model, step)
                step += 1
                run.step = step
                # With the weights inference will load, as samples and validation use them.
                with (torch.no_grad(), isolated_rng(device), autocast(device, cfg.precision),
                      ema.applied(model) if ema is not None else nullcontext()):
                    model.track_inference_statistics(batch, step)

                stats = _step_stats(logged, world, step, run)
                stats.update(_run_stats(time.perf_counter() - t0, recipe, world, stream, optimizers))
                if step % cfg.diagnostics_period == 0:
                    with torch.no_grad(), isolated_rng(device):
                        stats.update({f"diag/{k}": float(v) for k, v in model.diagnostics(batch).items()})

                if val_dataset is not None and step % cfg.validate_every == 0:
                    # EMA weights when there are any (what samples and exports use); no RNG is drawn.
                    with isolated_rng(device), (ema.applied(model) if ema is not None else nullcontext()):
                        values = validate(model, registry, recipe, step, dataset=val_dataset)
                    stats.update(values)
                    best.offer(values, step, model=model, registry=registry, recipe=recipe, ema=ema)

                stats.update(health(stats, step))  # diagnostics and validation values, when computed
                logger.accumulate(stats)
                if step % cfg.log_every == 0:
                    progress.log_line(step, logger.flush(step))
                progress.update(step, stats, stats["perf/it_per_s"])
                if (expected := estimate.step_done(step)) is not None:
                    progress.note(expected)
                with isolated_rng(device):
                    host.hook.vidgan_step_end(run=run, step=step, stats=stats)

                if cfg.sample_every and step % cfg.sample_every == 0 and preview_batch is not None:
                    write_samples(run, move_to_device(preview_batch, device), step, ema=ema)
                if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                    save(step)

        # The last step wrote its checkpoint above (a resumed finished run already has it).
        # Stopped by max_steps: like a preemption, no final checkpoint.
        status = "completed" if step >= cfg.steps or out_of_time else "interrupted"
        world.barrier()  # every rank returns once rank 0's last checkpoint is complete
        return run
    except KeyboardInterrupt as exc:
        # No checkpoint here: Ctrl-C may land between two phases of an iteration, and a
        # half-done step saved as a whole one would break exact resume. The last periodic
        # checkpoint is the resume point.
        status, error = "interrupted", exc
        raise
    except BaseException as exc:
        status, error = "failed", exc
        raise
    finally:
        if step % cfg.log_every:
            logger.flush(step)
        logger.close()
        run.status = status
        previous_settings.restore()
        try:
            with isolated_rng(device):
                host.hook.vidgan_train_end(run=run, step=step, status=status, error=error)
        except Exception as hook_exc:
            if error is None:
                raise
            warnings.warn(f"vidgan_train_end hook failed while handling {type(error).__name__}: {hook_exc}", stacklevel=2)


# -- the pieces of _train ----------------------------------------------------------------------------


def _plan_run(recipe: Recipe, registry: ComponentRegistry, world: World, run_dir: Path,
              resume: bool) -> tuple[bool, int, Path | None]:
    """Whether ``run_dir`` holds an earlier run, the step to start from and the checkpoint to
    resume from. The run directory is never overwritten, and a resume continues the same
    experiment. Rank 0 alone looks and decides (another rank could see rank 0's first files and
    take them for a run to resume); the others wait for its answer before reading anything."""

    def plan() -> dict[str, Any]:
        had_run = prepare_run_dir(run_dir, resume)
        checkpoints = list_checkpoints(run_dir) if had_run else []
        resume_from = checkpoints[-1][1] if checkpoints else None
        start_step = read_index(resume_from)["step"] if resume_from else 0
        if had_run:
            check_resume_recipe(run_dir, recipe, start_step, registry)
            remove_unfinished(run_dir / "checkpoints")  # checkpoint writes and deletions a kill cut short
        return {"had_run": had_run, "resume_from": str(resume_from) if resume_from else None, "start_step": start_step}

    answer = world.on_main(plan)
    resume_from = Path(answer["resume_from"]) if answer["resume_from"] else None
    return bool(answer["had_run"]), int(answer["start_step"]), resume_from


def _build_model(recipe: Recipe, registry: ComponentRegistry, world: World, device: torch.device) -> ModelAssembly:
    """The recipe's model assembly, on ``device`` in training mode, the same on every rank."""
    model = registry.build("model", recipe.model, geometry=recipe.video.geometry(), registry=registry)
    if not isinstance(model, ModelAssembly):
        raise VidganError(
            f"Model {recipe.model.type!r} is a {type(model).__name__}; model components must derive from"
            " vidgan_kit.interfaces.ModelAssembly (the trainer calls its methods)."
        )
    if recipe.train.distributed.sync_batchnorm and world.enabled:
        convert_sync_batchnorm(model, device)  # before anything keeps references to modules
    model.to(device)
    if recipe.train.channels_last:
        to_channels_last(model)
    model.train()
    # Same seed, same weights; rank 0's are copied anyway, so that a component that
    # initialises from anything else (the clock, a download) cannot split the ranks.
    world.broadcast_module(model)
    return model


def _build_losses(recipe: Recipe, registry: ComponentRegistry,
                  device: torch.device) -> tuple[dict[str, nn.Module], dict[str, list[str]]]:
    """The loss terms, by name, and which of them feed each phase (a loss declares its phases as
    a class attribute); a phase that no term feeds is an error."""
    losses: dict[str, nn.Module] = {
        name: registry.build("loss", term.spec).to(device) for name, term in recipe.losses.items()
    }
    phase_terms = {
        phase.name: [name for name in recipe.losses if phase.name in getattr(losses[name], "phases", ("generator",))]
        for phase in recipe.phases
    }
    for phase in recipe.phases:
        if not phase_terms[phase.name]:
            raise VidganError(
                f"Phase {phase.name!r} has no loss term: none of the losses ({', '.join(recipe.losses) or 'none'})"
                f" declares it. Add a loss for it or remove the phase from the recipe's [[phases]]."
            )
    return losses, phase_terms


def _make_ema(model: ModelAssembly, recipe: Recipe) -> EMA | None:
    """The EMA of ``train.ema.group``'s weights, when ``train.ema`` is on."""
    cfg = recipe.train.ema
    ema = EMA(model, cfg.group, cfg.decay, cfg.start) if cfg.enabled else None
    if ema is not None and ema.uncovered:
        warnings.warn(
            f"EMA: {ema.uncovered} parameter(s) of group {cfg.group!r} belong to the assembly itself, not"
            " to a slot, and are not averaged.",
            stacklevel=3,
        )
    return ema


def _due_phases(recipe: Recipe, phase_terms: dict[str, list[str]],
                step: int) -> list[tuple[PhaseSpec, list[tuple[str, float]]]]:
    """The phases due at ``step``, each with its terms whose scheduled weight is non-zero (a term
    before its ``start`` costs nothing: it is not even evaluated), as (name, weight)."""
    due = []
    for phase in recipe.phases:
        if phase.active(step):
            terms = [(n, w) for n in phase_terms[phase.name] if (w := recipe.losses[n].weight_at(step)) > 0]
            if terms:
                due.append((phase, terms))
    return due


def _phase_backward(
    phase: PhaseSpec, terms: list[tuple[str, float]], ctx: LossContext, losses: dict[str, nn.Module],
    groups: dict[str, list[nn.Parameter]], opt: torch.optim.Optimizer, scaler: Any, device: torch.device,
    precision: str, *, keep_graph: bool,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One phase's weighted terms summed and back-propagated into its group's gradients alone;
    returns the total and the weighted terms. ``keep_graph`` keeps the forward's graph for a
    later phase that still back-propagates through it."""
    # Freeze every other group for this phase: the generator's adversarial loss runs through
    # the discriminator, but must neither step nor fill the discriminator's gradients (and vice versa).
    frozen = [p for g, ps in groups.items() if g != phase.param_group for p in ps if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with autocast(device, precision):
            parts = {n: w * losses[n](ctx, phase.name) for n, w in terms}
            total = sum(parts.values())
        opt.zero_grad(set_to_none=True)
        scaler.scale(total).backward(retain_graph=keep_graph)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return total, parts


def _step_stats(logged: dict[str, torch.Tensor], world: World, step: int, run: RunContext) -> dict[str, float]:
    """The step's logged tensors as floats: one device sync for all of them, not one per scalar;
    with several ranks one all-reduce, so that the logged losses are the whole batch's, and a
    non-finite loss on any rank stops every rank."""
    names = list(logged)
    values = (world.all_reduce_mean_(torch.stack([logged[n].float().reshape(()) for n in names])).tolist()
              if names else [])
    stats = dict(zip(names, values, strict=True))
    bad = [n for n in names if n.startswith("loss/") and not math.isfinite(stats[n])]
    if bad:
        # The weights have just taken a non-finite step; stop here and leave the
        # last checkpoint as the last good state rather than train on garbage.
        raise VidganError(
            f"Non-finite loss at step {step}: {', '.join(f'{n} = {stats[n]}' for n in bad)}."
            f" The last good checkpoint is {run.last_checkpoint or '(none yet)'}. Lower the learning"
            " rate, set a grad_clip for the optimiser, or train in fp32."
        )
    return stats


def _run_stats(seconds: float, recipe: Recipe, world: World, stream: BatchStream,
               optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, float]:
    """Throughput, the data's epoch and the learning rates of one step that took ``seconds``."""
    it_per_s = 1.0 / seconds if seconds > 0 else 0.0
    stats = {
        "perf/it_per_s": it_per_s,
        # Nominal: the effective batch is loader.batch_size on each of world_size ranks.
        "perf/clips_per_s": it_per_s * recipe.loader.batch_size * world.world_size,
        "data/epoch": float(stream.epoch),
    }
    stats.update({f"lr/{group}": float(opt.param_groups[0]["lr"]) for group, opt in optimizers.items()})
    return stats


def write_samples(run: RunContext, batch: Any, step: int, *, ema: EMA | None = None) -> list[Path]:
    """``samples/step-NNNNNN.gif`` and ``.mp4``: the model's ``preview`` as a grid, one row per entry.

    Uses the EMA weights when there are any, a generator seeded by the recipe's seed (the
    same noise every time) and leaves the training's RNG streams untouched.
    """
    model = run.model
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        generator = torch.Generator(device=run.device).manual_seed(run.recipe.seed)
        with torch.no_grad(), isolated_rng(run.device), (ema.applied(model) if ema is not None else nullcontext()):
            videos = model.preview(batch, generator)
    finally:
        for m, training in modes.items():
            m.training = training
    if not videos:
        return []  # the assembly shows nothing
    rows = [v.detach().float().clamp(-1, 1).cpu() for v in videos.values()]
    grid = video_grid(rows)
    run.samples_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("gif", "mp4"):
        path = run.samples_dir / f"step-{step:06d}.{ext}"
        write_video(path, grid, fps=8)
        paths.append(path)
    return paths
