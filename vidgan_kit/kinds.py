"""Kinds of component: what each is for, the class its components derive from, what they
are built with, and the contract the tests hold them to.

A registry starts with the toolkit's own kinds (:data:`BUILTIN_KINDS`), added through
:meth:`~vidgan_kit.registry.ComponentRegistry.add_kind`, the method a plugin's
``vidgan_register_kinds`` hook calls to add its own (a keypoint detector, a dense-motion
network, ...). Nothing else in the toolkit lists kinds: the registry, the recipe schema,
``vidgan list-components``, the contract tests and the component catalogue read them here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from .interfaces import ContentEncoder, FrameDecoder, Loss, ModelAssembly, MotionEncoder, TemporalGenerator
from .kind_contracts import (
    ContractCase,
    dataset_contract,
    decoder_contract,
    discriminator_contract,
    encoder_contract,
    loss_contract,
    model_contract,
    temporal_generator_contract,
)

__all__ = ["Kind", "Wire", "BUILTIN_KINDS", "CONTEXT_KEYWORDS"]

#: Keywords the code that builds a component knows by itself (rather than from a neighbouring
#: component): the clip geometry, the registry (for assemblies that build their slots), the
#: data split and the seed (for data sets).
CONTEXT_KEYWORDS = ("geometry", "registry", "split", "seed")


@dataclass(frozen=True)
class Wire:
    """A wiring keyword that a neighbouring component provides: the value of ``attribute`` on
    the one that derives from ``provider`` (a decoder's ``content_shape`` is the content
    encoder's ``code_shape``). A model assembly's slots are wired by it, and so is the
    component catalogue's measuring run."""

    provider: type
    attribute: str


@dataclass(frozen=True)
class Kind:
    """One kind of component.

    :ivar name: snake_case, as recipes and ``registry.add(kind, ...)`` name it.
    :ivar description: what components of the kind are for, in a line.
    :ivar base: the class every component of the kind derives from (the contract tests check
        it, a slot's role is a subclass of it); ``None`` when there is none to name.
    :ivar contract: ``contract(case)`` runs one built component on the contract's inputs and
        checks its output (see :mod:`vidgan_kit.kind_contracts`); ``None``: components get the
        configuration checks only.
    :ivar context: keywords from :data:`CONTEXT_KEYWORDS` a component is built with.
    :ivar wiring: keywords a component is built with from its neighbours, each with its source.
    :ivar plugin: the plugin that added the kind (``"vidgan_kit"`` for the toolkit's own).
    :ivar distribution: that plugin's distribution, when it has one.
    """

    name: str
    description: str
    base: type | None = None
    contract: Callable[[ContractCase], Any] | None = None
    context: tuple[str, ...] = ("geometry",)
    wiring: Mapping[str, Wire] = field(default_factory=dict)
    plugin: str = "vidgan_kit"
    distribution: str | None = None

    @property
    def origin(self) -> str:
        """Human-readable provenance: plugin name and distribution."""
        return f"plugin {self.plugin!r}" + (f" (distribution {self.distribution})" if self.distribution else "")


#: The toolkit's own kinds, in the order they wire up: a kind's providers come before it.
BUILTIN_KINDS: tuple[Kind, ...] = (
    Kind("encoder", "maps frames or clips to latent codes (content encoders, motion encoders)",
         base=nn.Module, contract=encoder_contract),
    Kind("temporal_generator", "turns a clip-level motion code into per-frame motion codes",
         base=TemporalGenerator, contract=temporal_generator_contract,
         wiring={"motion_dim": Wire(MotionEncoder, "motion_dim")}),
    Kind("decoder", "renders a frame from a content code and a per-frame motion code (image generator)",
         base=FrameDecoder, contract=decoder_contract,
         wiring={"content_shape": Wire(ContentEncoder, "code_shape"),
                 "frame_code_dim": Wire(TemporalGenerator, "frame_code_dim")}),
    Kind("discriminator", "scores images, image pairs or videos as real or generated",
         base=nn.Module, contract=discriminator_contract),
    Kind("loss", "one weighted training objective, for the generator and/or discriminator phase",
         base=Loss, contract=loss_contract, context=()),
    Kind("model", "an assembly that wires components of the other kinds into one trainable model",
         base=ModelAssembly, contract=model_contract, context=("geometry", "registry")),
    Kind("dataset", "yields video clips as [T, C, H, W] tensors in [-1, 1]",
         contract=dataset_contract, context=("geometry", "split", "seed")),
    Kind("metric", "scores generated videos against references"),
)
