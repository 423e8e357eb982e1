"""The adversarial objectives shared by every GAN loss, and small helpers for losses.

An objective splits the discriminator's loss into a *real* and a *fake* term, so a loss
can weight its terms separately (Eq. 5 weights fake and mismatched pairs by ½), plus the
generator's loss on fake logits. All terms are means over the logits given.

==================  ==========================  ==========================  ======================
``gan``             real term (D)               fake term (D)               generator
==================  ==========================  ==========================  ======================
non_saturating      softplus(-r) = -log σ(r)    softplus(f) = -log(1-σ(f))  softplus(-f)
hinge               relu(1 - r)                 relu(1 + f)                 -f
least_squares       ½ (r - 1)²                  ½ f²                        ½ (f - 1)²
==================  ==========================  ==========================  ======================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from vidgan_kit.errors import VidganError
from vidgan_kit.interfaces import Loss, LossContext

__all__ = [
    "GanName",
    "GanObjective",
    "gan_objective",
    "GAN_FIELD",
    "require_output",
    "require_slot",
    "require_method",
    "ConfiguredLoss",
    "frozen_call",
]

GanName = Literal["non_saturating", "hinge", "least_squares"]

#: The ``gan`` option as every adversarial loss declares it.
GAN_FIELD: Any = Field(
    "non_saturating",
    description="Adversarial objective: non_saturating (the paper's log loss, generator maximises log D), "
    "hinge, or least_squares.",
)


class GanObjective:
    """One adversarial objective: ``d_loss(real, fake)`` and ``g_loss(fake)`` on raw logits."""

    def __init__(self, name: GanName) -> None:
        if name not in ("non_saturating", "hinge", "least_squares"):
            raise VidganError(f"unknown GAN objective {name!r}; choose non_saturating, hinge or least_squares")
        self.name = name

    def real_term(self, logits: torch.Tensor) -> torch.Tensor:
        """D's loss for logits that should read *real* (mean)."""
        logits = logits.float()
        if self.name == "non_saturating":
            return F.softplus(-logits).mean()
        if self.name == "hinge":
            return F.relu(1.0 - logits).mean()
        return 0.5 * (logits - 1.0).square().mean()

    def fake_term(self, logits: torch.Tensor) -> torch.Tensor:
        """D's loss for logits that should read *fake* (mean)."""
        logits = logits.float()
        if self.name == "non_saturating":
            return F.softplus(logits).mean()
        if self.name == "hinge":
            return F.relu(1.0 + logits).mean()
        return 0.5 * logits.square().mean()

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Discriminator loss: real term + fake term."""
        return self.real_term(real_logits) + self.fake_term(fake_logits)

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """Generator loss on the logits of its fakes (mean)."""
        logits = fake_logits.float()
        if self.name == "non_saturating":
            return F.softplus(-logits).mean()
        if self.name == "hinge":
            return -logits.mean()
        return 0.5 * (logits - 1.0).square().mean()

    def __repr__(self) -> str:
        return f"GanObjective({self.name!r})"


def gan_objective(name: GanName) -> GanObjective:
    """The objective called ``name``."""
    return GanObjective(name)


# -- helpers ----------------------------------------------------------------------------


class ConfiguredLoss(Loss):
    """A loss built from its typed config alone (no wiring): it keeps the config as ``self.config``."""

    def __init__(self, config: Any, **wiring: Any) -> None:
        super().__init__()
        self.config = config


def require_output(ctx: LossContext, key: str, loss: str) -> Any:
    """``ctx.outputs[key]``, or an error that says which model outputs the loss needs."""
    outputs: Mapping[str, Any] = ctx.outputs
    if key not in outputs:
        raise VidganError(
            f"loss {loss!r} needs the model output {key!r}, but the model's forward returned only "
            f"{', '.join(sorted(outputs)) or '(nothing)'}. Use it with a Dual-MTGAN-style model (e.g. `dual_mtgan`)."
        )
    return outputs[key]


def require_slot(ctx: LossContext, slot: str, loss: str) -> nn.Module:
    """The model's sub-component in ``slot``, or an error naming the slots it has."""
    slots = ctx.model.slots()
    if slot not in slots:
        raise VidganError(
            f"loss {loss!r} needs a model slot {slot!r}, but model {type(ctx.model).__name__} has only "
            f"{', '.join(sorted(slots)) or '(none)'}."
        )
    return slots[slot]


def require_method(module: Any, method: str, loss: str, slot: str, example: str) -> Any:
    """``module.method``, or an error that says which kind of component the loss needs in ``slot``."""
    fn = getattr(module, method, None)
    if not callable(fn):
        raise VidganError(
            f"{loss} needs a {slot} with {method}(), such as {example}; this model's is {type(module).__name__}"
        )
    return fn


def frozen_call(module: nn.Module, *args: Any) -> Any:
    """Call ``module`` with its parameters detached: gradients reach the inputs, not the module.

    Used where a network only *judges* (a discriminator in the generator phase, the motion
    encoder reading generated clips): its optimiser must not be moved by this loss, and
    skipping the weight gradients saves about a third of the backward pass through it.
    Buffers (spectral-norm vectors, BatchNorm statistics) behave as in a normal call.
    """
    params = {name: p.detach() for name, p in module.named_parameters()}
    return torch.func.functional_call(module, params, args)
