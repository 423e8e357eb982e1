"""Checkpoints: safetensors for tensors, JSON for everything else, never pickle.

A checkpoint is a directory a stranger can open safely (no code runs on load) and rebuild
from the registry alone, after diffusers' ``model_index.json`` + per-component
``config.json``/``model.safetensors``::

    checkpoints/step-00000100/
        index.json                       # written last: its presence marks the checkpoint complete
        <slot>/config.json               # kind, type, params, plugin + distribution, library version
        <slot>/model.safetensors         # that slot's state_dict
        _assembly/model.safetensors      # the assembly's own parameters/buffers, if it has any
        ema/<slot>/model.safetensors     # EMA weights of the averaged slots, if EMA is on
        training_state.safetensors       # optimiser moments, RNG states, ... (tensors)
        training_state.json              # ... and the rest of the training state (plain data)

Writes are atomic: everything goes to ``step-00000100.tmp-<pid>/``, each file is fsynced,
then the directory is renamed into place. Readers ignore ``*.tmp-*`` directories, so a
crash mid-write leaves the previous checkpoint as the latest one; a resumed run deletes
those leftovers (:func:`remove_unfinished`).
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ._version import __version__
from .config import ComponentSpec
from .errors import CheckpointError, RecipeError, UnknownComponentError, VidganError
from .interfaces import ModelAssembly
from .layout import VideoGeometry
from .recipe import parse_override
from .registry import ComponentRegistry

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "save_checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
    "read_index",
    "load_model",
    "build_model",
    "load_weights",
    "load_ema_weights",
    "load_training_state",
    "prune_checkpoints",
    "remove_unfinished",
    "checkpoint_name",
    "encode_tree",
    "decode_tree",
]

FORMAT = "vidgan-checkpoint"
FORMAT_VERSION = 1
INDEX = "index.json"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
ASSEMBLY = "_assembly"
EMA_DIR = "ema"
STATE = "training_state"
_STEP_DIR = re.compile(r"^step-(\d+)$")
_RESERVED = {ASSEMBLY, EMA_DIR, STATE}


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


# -- plain-data codec --------------------------------------------------------------------
#
# Optimiser and scaler state_dicts, RNG states and counters are trees of dicts (some with
# int keys), lists, tuples, numbers and tensors. JSON cannot hold tensors and loses tuples
# and int keys, so tensors go to a safetensors file under a path-like key and the JSON
# keeps a marker; tuples and non-string-keyed dicts are tagged so they come back as such.


def encode_tree(obj: Any, tensors: dict[str, torch.Tensor], key: str = "") -> Any:
    """``obj`` as JSON-able data; its tensors are moved into ``tensors``."""
    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.detach().cpu()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        dtype = str(obj.dtype)
        arr = obj.astype(np.int64) if obj.dtype == np.uint32 else obj  # torch has no full uint32 support
        tensors[key] = torch.from_numpy(np.ascontiguousarray(arr)).clone()
        return {"__ndarray__": key, "dtype": dtype}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_tree(v, tensors, f"{key}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_tree(v, tensors, f"{key}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_tree(v, tensors, f"{key}/{k}" if key else k) for k, v in obj.items()}
        return {"__items__": [[encode_tree(k, tensors, f"{key}/k{i}"), encode_tree(v, tensors, f"{key}/{k}")]
                              for i, (k, v) in enumerate(obj.items())]}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise CheckpointError(f"Cannot store a {type(obj).__name__} at {key!r} in a checkpoint (only tensors and plain data).")


def decode_tree(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode_tree`."""
    if isinstance(obj, list):
        return [decode_tree(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].cpu().numpy().astype(obj["dtype"])
        if "__tuple__" in obj:
            return tuple(decode_tree(v, tensors) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {decode_tree(k, tensors): decode_tree(v, tensors) for k, v in obj["__items__"]}
        return {k: decode_tree(v, tensors) for k, v in obj.items()}
    return obj


# -- durable file writes ----------------------------------------------------------------


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories; rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _write_tensors(path: Path, tensors: Mapping[str, torch.Tensor], meta: dict[str, str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(_storable(tensors), str(path), metadata=meta)
    _fsync_file(path)


def _storable(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors with no shared storage (safetensors refuses aliasing)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for k, t in tensors.items():
        t = t.detach().cpu()
        storage = t.untyped_storage()
        whole = storage.nbytes() == t.numel() * t.element_size()
        if storage.data_ptr() in seen or not whole or not t.is_contiguous():
            t = t.contiguous().clone()  # tied weights, views, channels_last: store a plain copy
        seen.add(t.untyped_storage().data_ptr())
        out[k] = t
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"Checkpoint file {path} is missing.") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"Checkpoint file {path} is not valid JSON ({exc}); the checkpoint is damaged.") from None


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"Checkpoint file {path} is missing.")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"Checkpoint file {path} cannot be read as safetensors: {exc}") from None


# -- provenance ----------------------------------------------------------------------


def _distribution_version(dist: str | None) -> str | None:
    if not dist:
        return None
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _origin(registry: ComponentRegistry, kind: str | None, name: str) -> dict[str, Any]:
    """Which plugin and distribution registered ``kind``/``name`` (None when unknown)."""
    if kind is None or (kind, name) not in registry:
        return {"plugin": None, "distribution": None, "distribution_version": None}
    entry = registry.get(kind, name)
    return {
        "plugin": entry.plugin,
        "distribution": entry.distribution,
        "distribution_version": _distribution_version(entry.distribution),
    }


def _is_spec(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str) and isinstance(value.get("params"), dict)


def _component_records(spec: dict[str, Any], registry: ComponentRegistry, path: str) -> list[dict[str, Any]]:
    """Every component in a (nested) spec, with where it came from."""
    records = [{"path": path, "kind": spec.get("kind"), "type": spec["type"],
                **_origin(registry, spec.get("kind"), spec["type"])}]

    def walk(value: Any, where: str) -> None:
        if _is_spec(value):
            records.extend(_component_records(value, registry, where))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")

    for k, v in spec["params"].items():
        walk(v, f"{path}.{k}")
    return records


def _slot_config(module: nn.Module, slot: str, registry: ComponentRegistry) -> dict[str, Any]:
    spec: ComponentSpec | None = getattr(module, "component_spec", None)
    kind = spec.kind if spec else None
    name = spec.type if spec else None
    return {
        "slot": slot,
        "kind": kind,
        "type": name,
        "params": spec.params if spec else None,
        **(_origin(registry, kind, name) if name else {"plugin": None, "distribution": None}),
        "class": f"{type(module).__module__}.{type(module).__qualname__}",
        "vidgan_kit_version": __version__,
    }


# -- which weights belong where ------------------------------------------------------------


def _slot_prefixes(model: nn.Module, slots: Mapping[str, nn.Module]) -> dict[str, str]:
    """slot name → its qualified name inside ``model`` (``""`` would be the model itself)."""
    names = {id(m): n for n, m in model.named_modules(remove_duplicate=False)}
    out = {}
    for slot, module in slots.items():
        if id(module) not in names or names[id(module)] == "":
            raise CheckpointError(
                f"Slot {slot!r} of model {type(model).__name__} is not a sub-module of the model; "
                "slots() must return modules registered as attributes of the assembly."
            )
        out[slot] = names[id(module)]
    return out


def _assembly_state(model: nn.Module, slots: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """The parameters and buffers of the assembly that no slot owns."""
    prefixes = tuple(p + "." for p in _slot_prefixes(model, slots).values())
    return {k: v for k, v in model.state_dict().items() if not k.startswith(prefixes)}


def _check_slot_name(slot: str) -> None:
    if not slot or slot in _RESERVED or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", slot):
        raise CheckpointError(
            f"Slot name {slot!r} cannot be a checkpoint folder: use letters, digits and '_', and none of "
            f"{sorted(_RESERVED)}."
        )


# -- saving ---------------------------------------------------------------------------


def save_checkpoint(
    directory: str | Path,
    model: ModelAssembly,
    *,
    step: int,
    registry: ComponentRegistry,
    recipe: Any | None = None,
    ema: Mapping[str, nn.Module] | None = None,
    training_state: Mapping[str, Any] | None = None,
    keep: int | None = None,
) -> Path:
    """Write ``directory/step-NNNNNNNN/`` atomically and return its path.

    :param directory: the folder holding a run's checkpoints (``run_dir/checkpoints``).
    :param model: a model assembly built by ``registry.build("model", ...)`` (it carries the
        ``component_spec`` it was built from).
    :param recipe: the resolved :class:`~vidgan_kit.recipe.Recipe`, stored in the index.
    :param ema: EMA copies of some slots, by slot name.
    :param training_state: a tree of tensors and plain data (optimiser state_dicts, RNG
        states, counters); read back by :func:`load_training_state`.
    :param keep: afterwards delete all but the newest ``keep`` complete checkpoints.
    """
    spec: ComponentSpec | None = getattr(model, "component_spec", None)
    if spec is None:
        raise CheckpointError(
            f"Model {type(model).__name__} has no component_spec: build it with "
            "registry.build('model', ...) so the checkpoint can record how to rebuild it."
        )
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = root / f"{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()

    slots = model.slots()
    for slot, module in slots.items():
        _check_slot_name(slot)
        _write_json(tmp / slot / CONFIG, _slot_config(module, slot, registry))
        _write_tensors(tmp / slot / WEIGHTS, module.state_dict(), {"format": "pt", "slot": slot})
    own = _assembly_state(model, slots)
    if own:
        _write_tensors(tmp / ASSEMBLY / WEIGHTS, own, {"format": "pt", "slot": ASSEMBLY})
    ema_slots = sorted(ema or {})
    for slot in ema_slots:
        if slot not in slots:
            raise CheckpointError(f"EMA slot {slot!r} is not a slot of the model ({', '.join(slots)}).")
        _write_tensors(tmp / EMA_DIR / slot / WEIGHTS, ema[slot].state_dict(), {"format": "pt", "slot": slot})  # type: ignore[index]
    if training_state is not None:
        tensors: dict[str, torch.Tensor] = {}
        meta = encode_tree(dict(training_state), tensors)
        _write_tensors(tmp / f"{STATE}.safetensors", tensors)
        _write_json(tmp / f"{STATE}.json", meta)

    spec_json = spec.model_dump(mode="json")
    index = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "vidgan_kit_version": __version__,
        "torch_version": torch.__version__,
        "step": step,
        "model": spec_json,
        "components": _component_records(spec_json, registry, "model"),
        "geometry": asdict(model.geometry),
        "slots": list(slots),
        "assembly_weights": bool(own),
        "ema_slots": ema_slots,
        "training_state": training_state is not None,
        "recipe": json.loads(recipe.to_json()) if recipe is not None else None,
    }
    _write_json(tmp / INDEX, index)  # last: a directory with index.json is complete
    _fsync_dir(tmp)

    if final.exists():  # re-saving a step (a finished run resumed with nothing to do)
        old = root / f"{final.name}.tmp-old-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    _fsync_dir(root)
    if keep is not None:
        prune_checkpoints(root, keep)
    return final


def prune_checkpoints(directory: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete checkpoints; returns what was deleted."""
    done = []
    for _, path in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        # Rename first, so a deletion cut short never leaves a half-empty "complete" checkpoint.
        doomed = path.with_name(f"{path.name}.tmp-del-{os.getpid()}")
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        done.append(path)
    return done


_UNFINISHED = re.compile(r"^step-\d+\.tmp-(?:old-|del-)?(\d+)$")


def remove_unfinished(directory: str | Path) -> list[Path]:
    """Delete the ``*.tmp-<pid>`` folders that interrupted processes left in ``directory`` (a
    write cut short, a checkpoint being replaced or pruned); returns what was deleted.

    A folder whose process still runs on this machine is kept: it may be writing now."""
    root = Path(directory)
    done = []
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        m = _UNFINISHED.match(child.name)
        if m and child.is_dir() and not _running_elsewhere(int(m.group(1))):
            shutil.rmtree(child, ignore_errors=True)
            done.append(child)
    return done


def _running_elsewhere(pid: int) -> bool:
    """Whether another process with this id runs here (this process wrote nothing yet)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or nothing we may ask about: leave it
    return True


# -- finding ---------------------------------------------------------------------------


def list_checkpoints(directory: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``directory`` (a run dir or its ``checkpoints/``), oldest first."""
    root = Path(directory)
    if (root / "checkpoints").is_dir():
        root = root / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        m = _STEP_DIR.match(child.name)  # "*.tmp-*" never matches: unfinished or being deleted
        if m and child.is_dir() and (child / INDEX).is_file():
            found.append((int(m.group(1)), child))
    return sorted(found)


def latest_checkpoint(path: str | Path) -> Path:
    """The checkpoint directory ``path`` names: itself if it is one, else the newest inside it."""
    p = Path(path)
    if (p / INDEX).is_file():
        return p
    if not p.exists():
        raise CheckpointError(f"{p} does not exist; pass a run directory or a checkpoint directory.")
    if not p.is_dir():
        raise CheckpointError(
            f"{p} is a file; a vidgan-kit checkpoint is a folder (index.json, config.json and .safetensors files)."
            " Pass a run directory or a checkpoint directory; pickled .pt/.pth files are never read."
        )
    if ".tmp-" in p.name or _STEP_DIR.match(p.name):
        raise CheckpointError(
            f"{p} is an incomplete checkpoint (it has no index.json, which is written last): the process"
            " writing it stopped part-way. Use an earlier checkpoint of the run."
        )
    found = list_checkpoints(p)
    if not found:
        root = p / "checkpoints" if (p / "checkpoints").is_dir() else p
        partial = [c.name for c in root.iterdir() if ".tmp-" in c.name] if root.is_dir() else []
        note = f" ({len(partial)} unfinished *.tmp-* folder(s) ignored)" if partial else ""
        incomplete = sorted(c.name for c in root.iterdir() if _STEP_DIR.match(c.name) and c.is_dir())
        if incomplete:
            note += f" ({', '.join(incomplete)} without index.json, which is written last: incomplete)"
        raise CheckpointError(
            f"No complete checkpoint in {root}{note}: expected folders named step-NNNNNNNN containing index.json."
        )
    return found[-1][1]


def read_index(path: str | Path) -> dict[str, Any]:
    """The ``index.json`` of the checkpoint ``path`` names (see :func:`latest_checkpoint`)."""
    ckpt = latest_checkpoint(path)
    index = _read_json(ckpt / INDEX)
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise CheckpointError(f"{ckpt / INDEX} is not a vidgan-kit checkpoint index.")
    version = index.get("format_version", 0)
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{ckpt} uses checkpoint format {version}, written by vidgan-kit {index.get('vidgan_kit_version')};"
            f" this vidgan-kit ({__version__}) reads format {FORMAT_VERSION}. Upgrade vidgan-kit."
        )
    index["path"] = str(ckpt)
    return index


# -- loading ---------------------------------------------------------------------------


def _describe_origin(rec: Mapping[str, Any]) -> str:
    if not rec.get("plugin"):
        return "by an unrecorded plugin"
    out = f"by plugin {rec['plugin']!r}"
    if rec.get("distribution"):
        version = f" {rec['distribution_version']}" if rec.get("distribution_version") else ""
        out += f" from distribution {rec['distribution']}{version}"
    return out


def _check_components(index: Mapping[str, Any], registry: ComponentRegistry) -> None:
    missing = [r for r in index.get("components", []) if (r.get("kind"), r.get("type")) not in registry]
    if not missing:
        return
    lines = [
        f"  - {r.get('kind')} component {r.get('type')!r} (at {r.get('path')}), registered originally {_describe_origin(r)}"
        for r in missing
    ]
    installs = sorted({r["distribution"] for r in missing if r.get("distribution")})
    hint = (
        f"Install {', '.join(installs)}" if installs else "Load the plugin that provides them"
    ) + " (or pass it with --plugin / VIDGAN_PLUGINS), then load the checkpoint again."
    if registry.unloaded_note:
        hint = f"Note: {registry.unloaded_note}.\n{hint}"
    raise CheckpointError(
        f"Checkpoint {index.get('path')} needs components that are not registered in this session:\n"
        + "\n".join(lines) + "\n" + hint
    )


def with_model_options(model: Mapping[str, Any], options: Sequence[str]) -> dict[str, Any]:
    """A copy of a saved model spec with options changed: each ``"slot.option=value"`` (a
    slot's option, e.g. ``decoder.max_shift=3.0``) or ``"option=value"`` (the
    assembly's own); the value is read as TOML, as in ``--set``. For options that change no
    weights (how a transfer is rendered, say): loading the weights afterwards is strict, so
    one that does fails there."""
    spec = json.loads(json.dumps(dict(model)))
    for text in options:
        try:
            path, value = parse_override(text)
        except RecipeError as exc:
            raise VidganError(f"model option {text!r}: {exc}") from exc
        node = spec
        for slot in path[:-1]:
            child = node.get("params", {}).get(slot)
            if not isinstance(child, dict) or "type" not in child:
                slots = sorted(k for k, v in node.get("params", {}).items() if isinstance(v, dict) and "type" in v)
                raise VidganError(f"model option {text!r}: no slot {slot!r} here (slots: {', '.join(slots) or 'none'})")
            node = child
        node.setdefault("params", {})[path[-1]] = value
    return spec


def build_model(index: Mapping[str, Any], registry: ComponentRegistry, options: Sequence[str] = ()) -> ModelAssembly:
    """Rebuild the (untrained) model assembly an index describes, through the registry, with
    ``options`` changed (:func:`with_model_options`)."""
    _check_components(index, registry)
    spec = ComponentSpec.model_validate(with_model_options(index["model"], options) if options else index["model"])
    geometry = VideoGeometry(**index["geometry"])
    try:
        return registry.build("model", spec, geometry=geometry, registry=registry)
    except (RecipeError, UnknownComponentError) as exc:
        raise CheckpointError(
            f"The configuration saved in {index.get('path')} no longer validates against the installed"
            f" components (did a plugin change its options?):\n{exc}"
        ) from exc


def _load_into(module: nn.Module, tensors: dict[str, torch.Tensor], what: str, file: Path,
               expected: Iterable[str] | None = None) -> None:
    """Strict: the file must hold exactly the module's keys, with matching shapes."""
    want = set(module.state_dict() if expected is None else expected)
    missing, unexpected = sorted(want - tensors.keys()), sorted(tensors.keys() - want)
    if missing or unexpected:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
        parts = ([f"missing keys: {show(missing)}"] if missing else []) + (
            [f"unexpected keys: {show(unexpected)}"] if unexpected else [])
        raise CheckpointError(
            f"{what}: the weights in {file} do not fit the module built from its config ({'; '.join(parts)})."
            " Was the checkpoint written by another version of the component?"
        )
    try:
        module.load_state_dict(tensors, strict=expected is None)
    except RuntimeError as exc:  # shape mismatches
        raise CheckpointError(f"{what}: the weights in {file} do not fit: {exc}") from None


def load_weights(model: ModelAssembly, path: str | Path, *, use_ema: bool = False) -> dict[str, Any]:
    """Load a checkpoint's weights into an already built ``model``; returns the index.

    With ``use_ema``, slots that have EMA weights get those instead of the raw ones.
    """
    index = read_index(path)
    ckpt = Path(index["path"])
    slots = model.slots()
    absent = [s for s in index["slots"] if s not in slots]
    extra = [s for s in slots if s not in index["slots"]]
    if absent or extra:
        raise CheckpointError(
            f"Checkpoint {ckpt} has slots {index['slots']} but the model has {list(slots)}"
            " (missing: " + (", ".join(absent) or "none") + "; not in checkpoint: " + (", ".join(extra) or "none") + ")."
        )
    for slot in index["slots"]:
        folder = ckpt / EMA_DIR / slot if use_ema and slot in index.get("ema_slots", []) else ckpt / slot
        file = folder / WEIGHTS
        _load_into(slots[slot], _read_tensors(file), f"slot {slot!r}", file)
    own = _assembly_state(model, slots)
    if index.get("assembly_weights") or own:
        file = ckpt / ASSEMBLY / WEIGHTS
        tensors = _read_tensors(file) if index.get("assembly_weights") else {}
        _load_into(model, tensors, "the assembly's own weights", file, expected=own.keys())
    return index


def load_ema_weights(ema: Mapping[str, nn.Module], path: str | Path) -> None:
    """Load the ``ema/<slot>/`` weights into EMA copies of those slots."""
    index = read_index(path)
    ckpt = Path(index["path"])
    saved = set(index.get("ema_slots", []))
    if saved != set(ema):
        raise CheckpointError(
            f"Checkpoint {ckpt} has EMA weights for {sorted(saved) or 'no slots'} but the run averages"
            f" {sorted(ema)}; was train.ema changed?"
        )
    for slot, module in ema.items():
        file = ckpt / EMA_DIR / slot / WEIGHTS
        _load_into(module, _read_tensors(file), f"EMA slot {slot!r}", file)


def load_model(
    path: str | Path,
    registry: ComponentRegistry,
    *,
    use_ema: bool = False,
    device: str | torch.device = "cpu",
) -> ModelAssembly:
    """Rebuild a model from a checkpoint (or a run directory → its latest checkpoint).

    The model is built from ``index.json`` through ``registry``; a component no installed
    plugin provides raises :class:`~vidgan_kit.errors.CheckpointError` naming it and the
    plugin and distribution that registered it originally. Returned in eval mode.
    """
    index = read_index(path)
    model = build_model(index, registry)
    load_weights(model, index["path"], use_ema=use_ema)
    return model.to(device).eval()


def load_training_state(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The ``training_state`` tree :func:`save_checkpoint` was given, with tensors on ``device``."""
    ckpt = latest_checkpoint(path)
    if not (ckpt / f"{STATE}.json").is_file():
        raise CheckpointError(f"Checkpoint {ckpt} holds weights only (no training state); it cannot resume training.")
    tensors = _read_tensors(ckpt / f"{STATE}.safetensors")
    if str(device) != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return decode_tree(_read_json(ckpt / f"{STATE}.json"), tensors)
