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

import json
import math
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import (
    checkpoint_name,
    list_checkpoints,
    load_ema_weights,
    load_training_state,
    load_weights,
    read_index,
    remove_unfinished,
    save_checkpoint,
)
from ..distributed import World, average_gradients, convert_sync_batchnorm, leave_without_waiting, lr_factor, record_failure
from ..errors import CheckpointError, VidganError
from ..eval.validation import VALIDATION_METRICS, validate, validation_dataset
from ..interfaces import LossContext
from ..io import video_grid, write_video
from ..plugins import PluginHost
from ..recipe import OptimizerSpec, Recipe
from .data import BatchStream, fixed_batch
from .device import autocast, check_precision, make_grad_scaler, move_to_device, resolve_device, to_channels_last
from .ema import EMA
from .health import HealthWatch
from .logging import MetricsLogger, ProgressDisplay, quiet_from_env, truncate_metrics
from .memory import reuse_freed_memory
from .optim import build_optimizers, check_groups, clip_gradients
from .run import RunContext, check_resume_recipe, prepare_run_dir, write_run_files
from .seeding import (
    DeterminismSettings,
    capture_rng_state,
    isolated_rng,
    rank_seed,
    restore_rng_state,
    seed_everything,
)

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

    # ---- the run directory: never overwrite; a resume continues the same experiment ----
    # Rank 0 alone looks and decides (another rank could see rank 0's first files and take
    # them for a run to resume); the others wait for its answer before reading anything.
    def plan_run() -> dict[str, Any]:
        had_run = prepare_run_dir(run_dir, resume)
        checkpoints = list_checkpoints(run_dir) if had_run else []
        resume_from = checkpoints[-1][1] if checkpoints else None
        start_step = read_index(resume_from)["step"] if resume_from else 0
        if had_run:
            check_resume_recipe(run_dir, recipe, start_step, registry)
            remove_unfinished(run_dir / "checkpoints")  # checkpoint writes and deletions a kill cut short
        return {"had_run": had_run, "resume_from": str(resume_from) if resume_from else None, "start_step": start_step}

    plan = world.on_main(plan_run)
    had_run, start_step = bool(plan["had_run"]), int(plan["start_step"])
    resume_from = Path(plan["resume_from"]) if plan["resume_from"] else None
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
        best_file = run_dir / "best" / "best.json"
        best_value = json.loads(best_file.read_text())["value"] if best_file.is_file() else None

        # ---- model, losses, optimisers ----
        model = registry.build("model", recipe.model, geometry=geometry, registry=registry)
        for method in ("parameter_groups", "slots"):
            if not callable(getattr(model, method, None)):
                raise VidganError(
                    f"Model {recipe.model.type!r} has no {method}() method; model components must follow"
                    " vidgan_kit.interfaces.ModelAssembly."
                )
        if cfg.distributed.sync_batchnorm and world.enabled:
            convert_sync_batchnorm(model, device)  # before anything keeps references to modules
        model.to(device)
        if cfg.channels_last:
            to_channels_last(model)
        model.train()
        # Same seed, same weights; rank 0's are copied anyway, so that a component that
        # initialises from anything else (the clock, a download) cannot split the ranks.
        world.broadcast_module(model)
        groups = model.parameter_groups()
        check_groups(recipe, groups)

        losses: dict[str, nn.Module] = {
            name: registry.build("loss", term.spec).to(device) for name, term in recipe.losses.items()
        }
        # Which terms feed which phase: a loss declares its phases as a class attribute.
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
        ema = EMA(model, cfg.ema.group, cfg.ema.decay, cfg.ema.start) if cfg.ema.enabled else None
        if ema is not None and ema.uncovered:
            warnings.warn(
                f"EMA: {ema.uncovered} parameter(s) of group {cfg.ema.group!r} belong to the assembly itself, not"
                " to a slot, and are not averaged.",
                stacklevel=2,
            )

        # ---- resume: restore every piece of state, the RNGs last ----
        if resume_from is not None:
            load_weights(model, resume_from)
            state = load_training_state(resume_from)  # on the CPU: load_state_dict moves what it keeps
            saved_groups = set(state["optimizers"])
            if saved_groups != set(optimizers):
                raise CheckpointError(
                    f"{resume_from} has optimiser state for groups {sorted(saved_groups)}, the run has {sorted(optimizers)}."
                )
            for group, opt in optimizers.items():
                lrs = [pg["lr"] for pg in opt.param_groups]
                opt.load_state_dict(state["optimizers"][group])
                for pg, lr in zip(opt.param_groups, lrs, strict=True):
                    pg["lr"] = lr  # the saved one was scaled for the saving run's world size
            if scaler.is_enabled() and state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
            if ema is not None:
                load_ema_weights(ema.modules, resume_from)
            with torch.no_grad():
                for name, buffers in state.get("loss_buffers", {}).items():
                    own = dict(losses[name].named_buffers())
                    for key, value in buffers.items():
                        own[key].copy_(value)
            data = state["data"]
            saved_world = int(state.get("world_size", 1))
            if saved_world == world.world_size:
                stream.seek(data["epoch"], data["batch"])
            else:
                consumed = data.get("consumed", data["batch"] * stream.batch_size * saved_world)
                stream.seek_consumed(data["epoch"], consumed)
            # Last, so that nothing done while building or loading moves the streams on.
            # Each rank continues its own streams; a rank the saving run did not have
            # starts a fresh one derived from the seed, its rank and the step.
            rank_states = state.get("rng_ranks", {})
            if world.rank == 0:
                restore_rng_state(state["rng"])
            elif saved_world == world.world_size and str(world.rank) in rank_states:
                restore_rng_state(rank_states[str(world.rank)])
            else:
                seed_everything(rank_seed(recipe.seed, world.rank, start_step))
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

    def save(step: int) -> Path | None:
        """Every rank calls it (their RNG states are gathered); rank 0 writes."""
        nonlocal saved_step
        saved_step = step
        rng = [capture_rng_state()] if not world.enabled else world.gather_tree(capture_rng_state())
        if not world.is_main:
            run.last_checkpoint = run.checkpoints_dir / checkpoint_name(step)  # rank 0 is writing it
            return None
        state = {
            "step": step,
            "data": stream.position(),
            "optimizers": {g: opt.state_dict() for g, opt in optimizers.items()},
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "loss_buffers": {n: dict(m.named_buffers()) for n, m in losses.items() if any(True for _ in m.buffers())},
            "rng": rng[0],
            "world_size": world.world_size,
        }
        if world.enabled:
            state["rng_ranks"] = {str(r): s for r, s in enumerate(rng) if r > 0}
        path = save_checkpoint(
            run.checkpoints_dir, model, step=step, registry=registry, recipe=recipe,
            ema=ema.modules if ema is not None else None, training_state=state, keep=cfg.keep_checkpoints,
        )
        run.last_checkpoint = path
        with isolated_rng(device):
            host.hook.vidgan_checkpoint_saved(run=run, step=step, path=path)
        return path

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
        progress_keys = tuple(getattr(model, "progress_keys", ()))
        with ProgressDisplay(cfg.steps, start_step, enabled=run.is_main, quiet=quiet,
                             extra_keys=progress_keys) as progress:
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

                # Phases due now, with their terms whose scheduled weight is non-zero
                # (a term before its `start` costs nothing: it is not even evaluated).
                due = []
                for phase in recipe.phases:
                    if phase.active(step):
                        terms = [(n, w) for n in phase_terms[phase.name] if (w := recipe.losses[n].weight_at(step)) > 0]
                        if terms:
                            due.append((phase, terms))

                logged: dict[str, torch.Tensor] = {}
                for i, (phase, terms) in enumerate(due):
                    group = phase.param_group
                    opt = optimizers[group]
                    # Freeze every other group for this phase: the generator's adversarial
                    # loss runs through the discriminator, but must neither step nor fill
                    # the discriminator's gradients (and vice versa).
                    frozen = [p for g, ps in groups.items() if g != group for p in ps if p.requires_grad]
                    for p in frozen:
                        p.requires_grad_(False)
                    try:
                        with autocast(device, cfg.precision):
                            parts = {n: w * losses[n](ctx, phase.name) for n, w in terms}
                            total = sum(parts.values())
                        opt.zero_grad(set_to_none=True)
                        # Keep the forward's graph while a later phase still backprops through it.
                        scaler.scale(total).backward(retain_graph=i < len(due) - 1)
                    finally:
                        for p in frozen:
                            p.requires_grad_(True)
                    # Average this group's gradients over the ranks (a no-op when alone):
                    # every rank then takes the same step and the weights stay identical.
                    average_gradients(stepped[group], world)
                    if grad_clip[group] > 0:
                        scaler.unscale_(opt)  # clip the true gradients, not the scaled ones
                        logged[f"grad_norm/{group}"] = clip_gradients(opt, grad_clip[group])
                    scaler.step(opt)
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
                if callable(getattr(model, "track_inference_statistics", None)):
                    # With the weights inference will load, as samples and validation use them.
                    with (torch.no_grad(), isolated_rng(device), autocast(device, cfg.precision),
                          ema.applied(model) if ema is not None else nullcontext()):
                        model.track_inference_statistics(batch, step)

                # One device sync per step for all the scalars, not one per scalar; with several
                # ranks one all-reduce, so that the logged losses are the whole batch's, and a
                # non-finite loss on any rank stops every rank below.
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
                dt = time.perf_counter() - t0
                stats["perf/it_per_s"] = 1.0 / dt if dt > 0 else 0.0
                # Nominal: the effective batch is loader.batch_size on each of world_size ranks.
                stats["perf/clips_per_s"] = stats["perf/it_per_s"] * recipe.loader.batch_size * world.world_size
                stats["data/epoch"] = float(stream.epoch)
                for group, opt in optimizers.items():
                    stats[f"lr/{group}"] = float(opt.param_groups[0]["lr"])
                if step % cfg.diagnostics_period == 0 and callable(getattr(model, "diagnostics", None)):
                    with torch.no_grad(), isolated_rng(device):
                        stats.update({f"diag/{k}": float(v) for k, v in model.diagnostics(batch).items()})

                if val_dataset is not None and step % cfg.validate_every == 0:
                    # EMA weights when there are any (what samples and exports use); no RNG is drawn.
                    with isolated_rng(device), (ema.applied(model) if ema is not None else nullcontext()):
                        values = validate(model, registry, recipe, step, dataset=val_dataset)
                    stats.update(values)
                    value = values.get(cfg.validate_metric, math.nan)
                    higher = VALIDATION_METRICS[cfg.validate_metric]
                    if cfg.keep_best and math.isfinite(value) and (
                            best_value is None or (value > best_value if higher else value < best_value)):
                        best_value = value
                        save_checkpoint(run_dir / "best", model, step=step, registry=registry, recipe=recipe,
                                        ema=ema.modules if ema is not None else None, keep=1)
                        best_file.write_text(json.dumps({"step": step, "metric": cfg.validate_metric,
                                                         "value": value}) + "\n")

                stats.update(health(stats, step))  # diagnostics and validation values, when computed
                logger.accumulate(stats)
                if step % cfg.log_every == 0:
                    progress.log_line(step, logger.flush(step))
                progress.update(step, stats, stats["perf/it_per_s"])
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




def write_samples(run: RunContext, batch: Any, step: int, *, ema: EMA | None = None) -> list[Path]:
    """``samples/step-NNNNNN.gif`` and ``.mp4``: the model's ``preview`` as a grid, one row per entry.

    Uses the EMA weights when there are any, a generator seeded by the recipe's seed (the
    same noise every time) and leaves the training's RNG streams untouched.
    """
    model = run.model
    preview = getattr(model, "preview", None)
    if not callable(preview):
        return []
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        generator = torch.Generator(device=run.device).manual_seed(run.recipe.seed)
        with torch.no_grad(), isolated_rng(run.device), (ema.applied(model) if ema is not None else nullcontext()):
            videos = preview(batch, generator)
    finally:
        for m, training in modes.items():
            m.training = training
    rows = [v.detach().float().clamp(-1, 1).cpu() for v in videos.values()]
    grid = video_grid(rows)
    run.samples_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("gif", "mp4"):
        path = run.samples_dir / f"step-{step:06d}.{ext}"
        write_video(path, grid, fps=8)
        paths.append(path)
    return paths
