"""Contracts every component of a kind must honour, runnable from any plugin's tests.

A plugin author checks a discriminator in three lines::

    from vidgan_kit.testing import check_component

    def test_my_discriminator_contract():
        check_component("discriminator", "my_disc")

Each check raises ``AssertionError`` with a message that names the component and what
broke. Every component gets a JSON round trip of its config and a check of its kind's base
class; its kind's contract (:attr:`vidgan_kit.kinds.Kind.contract`) checks its output's
shapes (videos ``[B, T, C, H, W]`` in [-1, 1] where a video or frame comes out); then come
finiteness, gradients reaching every parameter, determinism under a seed and a safetensors
round trip of the state. Kinds that plugins add are checked the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import torch
from safetensors.torch import load, save
from torch import nn

from ..config import ComponentSpec
from ..interfaces import ModelAssembly
from ..kind_contracts import (
    CONTRACT_GEOMETRY,
    ContractCase,
    ContractSettings,
    assert_finite,
    assert_same,
    tensors_in,
)
from ..kinds import Kind
from ..registry import ComponentRegistry

__all__ = ["ContractSettings", "check_component", "build_component", "run_contract_forward", "contract_wiring",
           "CONTRACT_GEOMETRY"]


def _default_registry() -> ComponentRegistry:
    from .. import load_registry

    return load_registry()


def contract_wiring(kind: Kind, s: ContractSettings, registry: ComponentRegistry) -> dict[str, Any]:
    """The keyword arguments a component of ``kind`` is built with in a contract test: its
    context (the contract's geometry, the registry, the train split, the seed) and an example
    value for each of its wiring keywords (:meth:`ContractSettings.wired`)."""
    given = {"geometry": s.geometry, "registry": registry, "split": "train", "seed": s.seed}
    return {**{k: given[k] for k in kind.context}, **{k: s.wired(k) for k in kind.wiring}}


def build_component(
    kind: str,
    name: str,
    params: dict[str, Any] | None = None,
    *,
    registry: ComponentRegistry | None = None,
    settings: ContractSettings = ContractSettings(),
    seed: int | None = None,
) -> Any:
    """Build a component with the contract's wiring, seeding the initialisation."""
    registry = registry or _default_registry()
    torch.manual_seed(settings.seed if seed is None else seed)
    return registry.build(kind, name, params or {}, **contract_wiring(registry.kind(kind), settings, registry))


def run_contract_forward(kind: str, label: str, m: Any, s: ContractSettings, registry: ComponentRegistry | None = None,
                         *, rebuild: Callable[[], Any] | None = None, model: ModelAssembly | None = None) -> Any:
    """Run component ``m`` of ``kind`` once through its kind's contract, on the contract's
    seeded inputs (as :func:`check_component` does), and return its output; ``label`` names
    it in errors. The component catalogue's shapes come from this call."""
    contract = (registry or _default_registry()).kind(kind).contract
    if contract is None:
        raise ValueError(f"kind {kind!r} has no contract to run")
    gen = torch.Generator().manual_seed(s.seed)
    torch.manual_seed(s.seed)  # components may draw noise internally
    return contract(ContractCase(label, m, s, gen, rebuild=rebuild, model=model))


def _backward_outputs(label: str, m: nn.Module, out: Any) -> None:
    tensors = [t for t in tensors_in(out) if t.is_floating_point() and t.requires_grad]
    if not tensors:
        raise AssertionError(f"{label}: no output depends on the parameters (nothing requires grad)")
    m.zero_grad(set_to_none=True)
    sum(t.float().square().mean() for t in tensors).backward()


def _has_grad(p: torch.Tensor) -> bool:
    return p.grad is not None and bool(torch.isfinite(p.grad).all())


def _check_gradients(label: str, m: nn.Module, out: Any) -> None:
    _backward_outputs(label, m, out)
    dead = [n for n, p in m.named_parameters() if p.requires_grad and not _has_grad(p)]
    if dead:
        raise AssertionError(f"{label}: no finite gradient reaches {len(dead)} parameter(s), e.g. {dead[:4]}")


def _check_group_gradients(label: str, m: ModelAssembly, out: Any) -> None:
    """A model's forward drives some parameter groups (the generator) and not others (the
    discriminators, which only the losses call). Each group must be all-or-nothing: a group
    that is half reached has parameters no gradient will ever train."""
    _backward_outputs(label, m, out)
    names = {id(p): n for n, p in m.named_parameters()}
    reached_any = False
    for group, params in m.parameter_groups().items():
        live = [p for p in params if p.requires_grad]
        hit = [p for p in live if _has_grad(p)]
        if hit and len(hit) != len(live):
            dead = [names.get(id(p), "?") for p in live if not _has_grad(p)]
            raise AssertionError(
                f"{label}: group {group!r} is only partly reached by forward(): no gradient for {dead[:4]}"
            )
        reached_any = reached_any or bool(hit)
    if not reached_any:
        raise AssertionError(f"{label}: forward() outputs reach no parameter group")


def _check_state_round_trip(kind: str, label: str, m: nn.Module, name: str, params: dict[str, Any],
                            registry: ComponentRegistry, s: ContractSettings) -> None:
    state = {k: v.detach().contiguous().clone() for k, v in m.state_dict().items()}
    blob = save(state)
    other = build_component(kind, name, params, registry=registry, settings=s, seed=s.seed + 1)
    other.load_state_dict(load(blob), strict=True)
    m.eval()
    other.eval()
    with torch.no_grad():
        assert_same(label, run_contract_forward(kind, label, m, s, registry),
                    run_contract_forward(kind, label, other, s, registry),
                    "outputs differ after a safetensors round trip of the state dict")


def _check_config_round_trip(kind: str, label: str, m: Any, registry: ComponentRegistry) -> None:
    spec = getattr(m, "component_spec", None)
    if not isinstance(spec, ComponentSpec):
        raise AssertionError(f"{label}: built component carries no component_spec")
    text = json.dumps(spec.model_dump(mode="json"))
    again = ComponentSpec.model_validate(json.loads(text))
    spec2, config2 = registry.resolve(kind, again)
    if spec2 != spec:
        raise AssertionError(f"{label}: config does not survive a JSON round trip: {spec.params} != {spec2.params}")
    entry = registry.get(kind, spec.type)
    if entry.config_model.model_validate(spec.params) != config2:
        raise AssertionError(f"{label}: config model does not reproduce itself from its JSON form")


def check_component(
    kind: str,
    name: str,
    params: dict[str, Any] | None = None,
    *,
    registry: ComponentRegistry | None = None,
    settings: ContractSettings = ContractSettings(),
    model: ModelAssembly | None = None,
) -> None:
    """Run every check of ``kind``'s contract on the registered component ``name``.

    ``params`` are recipe options (required ones must be given, e.g. a dataset's root).
    For losses, pass a ``model`` built with the same settings to exercise each phase.
    Every kind gets the configuration checks and the check of its base class; a kind with a
    contract gets it run, and when that gives an output, the checks of finiteness,
    determinism, gradients and a safetensors round trip of the state.
    """
    registry = registry or _default_registry()
    params = params or {}
    label = f"{kind} component {name!r}"
    spec = registry.kind(kind)
    registry.get(kind, name)  # unknown names fail here, with suggestions
    build = lambda seed=None: build_component(kind, name, params, registry=registry, settings=settings, seed=seed)  # noqa: E731
    component = build()
    _check_config_round_trip(kind, label, component, registry)
    if spec.base is not None and not isinstance(component, spec.base):
        raise AssertionError(f"{label}: must derive from {spec.base.__module__}.{spec.base.__qualname__}")
    if spec.contract is None:
        return  # kinds without a tensor contract (metrics) only get the configuration checks

    if not isinstance(component, nn.Module):  # no weights to check (data sets)
        run_contract_forward(kind, label, component, settings, registry, rebuild=build, model=model)
        return

    # Determinism: two builds under one seed have equal weights and give equal outputs.
    twin = build()
    assert_same(label, list(component.state_dict().values()), list(twin.state_dict().values()),
                "two builds under one seed have different initial weights")
    component.train()
    twin.train()
    out = run_contract_forward(kind, label, component, settings, registry, rebuild=build, model=model)
    if out is None:
        return  # the contract checked all there is (losses)
    assert_finite(label, out)
    assert_same(label, out, run_contract_forward(kind, label, twin, settings, registry),
                "the same seed and input gave different outputs")
    if isinstance(component, ModelAssembly):
        _check_group_gradients(label, component, out)
    else:
        _check_gradients(label, component, out)
    _check_state_round_trip(kind, label, component, name, params, registry, settings)
