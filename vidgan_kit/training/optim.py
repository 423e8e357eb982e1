"""One optimiser per parameter group of the model assembly.

A group's settings come from ``[optimizers.<group>]``; a group without an entry gets the
GAN default, Adam with lr 2e-4 and betas (0.5, 0.999) (DCGAN's choice, kept by most
video GANs since: a low beta1 damps the momentum that makes adversarial play oscillate).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import VidganError
from ..recipe import OptimizerSpec, Recipe

__all__ = ["build_optimizers", "check_groups", "clip_gradients"]


def check_groups(recipe: Recipe, groups: dict[str, list[nn.Parameter]]) -> None:
    """Every phase and optimiser entry must name a group the model has."""
    known = sorted(groups)
    problems = []
    for phase in recipe.phases:
        if phase.param_group not in groups:
            problems.append(f"phases: phase {phase.name!r} optimises group {phase.param_group!r}")
    for name in recipe.optimizers:
        if name not in groups:
            problems.append(f"optimizers.{name}: no such parameter group")
    if recipe.train.ema.enabled and recipe.train.ema.group not in groups:
        problems.append(f"train.ema.group = {recipe.train.ema.group!r}")
    if problems:
        raise VidganError(
            "The recipe names parameter groups the model does not have:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\nThe model {recipe.model.type!r} has the groups: {', '.join(known) or '(none)'}."
        )
    seen: dict[int, str] = {}
    for name, params in groups.items():
        for p in params:
            if id(p) in seen and seen[id(p)] != name:
                raise VidganError(
                    f"A parameter of model {recipe.model.type!r} is in both groups {seen[id(p)]!r} and {name!r};"
                    " each parameter must belong to one group so that one optimiser owns it."
                )
            seen[id(p)] = name


def build_optimizers(
    recipe: Recipe,
    groups: dict[str, list[nn.Parameter]],
    *,
    lr_scale: float = 1.0,
    names: dict[int, str] | None = None,
) -> dict[str, torch.optim.Optimizer]:
    """An optimiser per group that a phase steps and that has trainable parameters.

    A group no phase steps (a frozen feature extractor, say) gets none: no state to save.
    ``lr_scale`` multiplies every learning rate (``train.distributed.lr_scaling``).
    ``names`` maps ``id(parameter)`` to its name in the model (``named_parameters()``); it
    is needed when a group's spec has ``lr_multipliers``, which split the group into one
    torch param group per learning rate.
    """
    stepped = {phase.param_group for phase in recipe.phases}
    out: dict[str, torch.optim.Optimizer] = {}
    for name, params in groups.items():
        if name not in stepped:
            continue
        trainable = [p for p in params if p.requires_grad]
        if not trainable:
            continue
        spec = recipe.optimizers.get(name, OptimizerSpec())
        cls = torch.optim.AdamW if spec.type == "adamw" else torch.optim.Adam
        lr = spec.lr * lr_scale
        out[name] = cls(_lr_param_groups(name, trainable, spec, names or {}, lr), lr=lr, betas=spec.betas,
                        eps=spec.eps, weight_decay=spec.weight_decay)
    return out


def _lr_param_groups(
    group: str, params: list[nn.Parameter], spec: OptimizerSpec, names: dict[int, str], lr: float
) -> list[dict[str, object]]:
    """torch param groups of one optimiser: one per distinct learning rate (``lr`` times a
    multiplier), in first-seen order of ``params`` (a fixed order, so saved optimiser state
    loads back in place)."""
    if not spec.lr_multipliers:
        return [{"params": params, "lr": lr}]
    if any(id(p) not in names for p in params):
        raise VidganError(f"optimizers.{group}.lr_multipliers: the trainer could not name this group's parameters.")
    # Longest prefix first; a prefix matches a whole name component ("head" is not "header").
    prefixes = sorted(spec.lr_multipliers, key=len, reverse=True)
    used: set[str] = set()
    by_factor: dict[float, list[nn.Parameter]] = {}
    for p in params:
        full = names[id(p)]
        key = next((k for k in prefixes if full == k or full.startswith(k + ".")), None)
        factor = 1.0 if key is None else spec.lr_multipliers[key]
        if key is not None:
            used.add(key)
        by_factor.setdefault(factor, []).append(p)
    unused = [k for k in spec.lr_multipliers if k not in used]
    if unused:
        tops = sorted({names[id(p)].split(".")[0] for p in params})
        raise VidganError(
            "\n".join(f"optimizers.{group}.lr_multipliers.{k}: matches no trainable parameter of group {group!r}"
                      for k in unused)
            + f"\nThe group's parameters live under: {', '.join(tops)}."
        )
    return [{"params": ps, "lr": lr * factor} for factor, ps in by_factor.items()]


def clip_gradients(optimizer: torch.optim.Optimizer, max_norm: float) -> torch.Tensor:
    params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
    return torch.nn.utils.clip_grad_norm_(params, max_norm)
