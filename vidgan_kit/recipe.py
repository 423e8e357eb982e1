"""Recipes: TOML files parsed into strict, typed models.

Layout of a recipe (every section but ``[data]`` and ``[model]`` has defaults)::

    extends = "base.toml"      # optional: start from another recipe (relative to this file)
    name = "dual_mtgan"        # default run name
    seed = 0
    plugins = []               # extra plugin modules or .py files (relative to the recipe)

    [video]                    # geometry shared by data and model
    frames = 16
    height = 64
    width = 64

    [data]                     # a dataset component
    type = "synthetic_shapes"

    [loader]
    batch_size = 16

    [model]                    # a model assembly; its slots are nested tables
    type = "dual_mtgan"
    [model.video_discriminator]
    type = "conv3d_video_discriminator"

    [losses.reconstruction]    # a loss component plus weight and schedule
    type = "reconstruction"
    weight = 10.0

    [[phases]]                 # the optimisation steps of one iteration, in order
    name = "discriminator"

    [optimizers.generator]
    lr = 2e-4

    [train]
    steps = 10000

With ``extends``, this file's tables are merged into the other recipe's, key by key; a
component table whose ``type`` differs from the base's replaces it whole, and arrays
(``phases``, ``plugins``) replace the base's. A family of recipes shares one model this way
and changes only its data and frame size.

Unknown keys are errors everywhere. All problems are collected and reported together,
each with its dotted TOML path and, for typos, a suggestion.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, field_validator, model_validator

from .config import ComponentSpec, issues_from_pydantic
from .errors import RecipeError, RecipeIssue
from .layout import VideoGeometry
from .registry import ComponentRegistry, validate_component

__all__ = [
    "StrictModel",
    "VideoSection",
    "LoaderSection",
    "LossTerm",
    "PhaseSpec",
    "OptimizerSpec",
    "EMASection",
    "DistributedSection",
    "TrainSection",
    "Recipe",
    "read_recipe_table",
    "merge_recipe_tables",
    "apply_overrides",
    "parse_override",
    "validate_recipe",
    "load_recipe",
    "LOSS_SCHEDULE_KEYS",
    "VALIDATION_METRICS",
    "device_name_problem",
]


class StrictModel(BaseModel):
    # NaN and infinity are refused: a NaN weight would silently drop its loss term, and
    # recipe.json must stay standard JSON.
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=(), allow_inf_nan=False)


#: The largest clip a recipe may ask for, in bytes as float32: far above any trainable
#: geometry, it turns a typo (frames = 100000000) into a validation error instead of a
#: MemoryError mid-run.
MAX_CLIP_BYTES = 2**30


class VideoSection(StrictModel):
    """Clip geometry shared by the dataset and every model component."""

    frames: int = Field(16, ge=2, description="Frames per clip (T).")
    height: int = Field(64, ge=8, description="Frame height in pixels.")
    width: int = Field(64, ge=8, description="Frame width in pixels.")
    channels: int = Field(3, ge=1, le=4, description="Colour channels (3 for RGB).")

    @model_validator(mode="after")
    def _clip_fits(self) -> VideoSection:
        size = self.frames * self.channels * self.height * self.width * 4
        if size > MAX_CLIP_BYTES:
            raise ValueError(
                f"one clip of {self.frames} frames, {self.channels}x{self.height}x{self.width}, takes"
                f" {size / 2**30:,.1f} GiB as float32; the limit is {MAX_CLIP_BYTES // 2**30} GiB per clip (a batch"
                " holds loader.batch_size clips, the model's activations many times more)."
                " Lower video.frames, video.height or video.width."
            )
        return self

    def geometry(self) -> VideoGeometry:
        return VideoGeometry(frames=self.frames, channels=self.channels, height=self.height, width=self.width)


class LoaderSection(StrictModel):
    """How clips are batched."""

    batch_size: int = Field(16, ge=1, description="Clips per step (per process in distributed runs).")
    workers: int = Field(0, ge=0, description="DataLoader worker processes (0 loads in the training process).")
    drop_last: bool = Field(True, description="Drop the last incomplete batch of an epoch.")


#: Keys of a ``[losses.NAME]`` table that belong to the schedule, not to the loss component.
LOSS_SCHEDULE_KEYS = ("weight", "start", "ramp", "enabled")


class LossTerm(StrictModel):
    """A loss component with its weight and schedule."""

    spec: ComponentSpec
    weight: float = Field(1.0, ge=0, description="Multiplier of the term once fully switched on (0 turns it off).")
    start: int = Field(0, ge=0, description="Step from which the term counts.")
    ramp: int = Field(0, ge=0, description="Steps over which the weight rises linearly from 0 after `start`.")
    enabled: bool = Field(True, description="Set false to drop the term without deleting its table.")

    def weight_at(self, step: int) -> float:
        """The effective weight at ``step`` (0 before ``start``, linear during the ramp)."""
        if not self.enabled or step < self.start:
            return 0.0
        if self.ramp <= 0:
            return self.weight
        return self.weight * min(1.0, (step - self.start + 1) / self.ramp)


class PhaseSpec(StrictModel):
    """One optimisation step within an iteration (StyleGAN3-style phases as data)."""

    name: str = Field(description="Phase name; losses contribute to the phases they declare.")
    group: str | None = Field(None, description="Parameter group it optimises (defaults to `name`).")
    every: int = Field(1, ge=1, description="Run on every N-th iteration.")
    start: int = Field(0, ge=0, description="First iteration on which it runs.")

    @property
    def param_group(self) -> str:
        return self.group or self.name

    def active(self, step: int) -> bool:
        return step >= self.start and (step - self.start) % self.every == 0


class OptimizerSpec(StrictModel):
    """An optimiser for one parameter group."""

    type: Literal["adam", "adamw"] = Field("adam", description="Optimiser algorithm.")
    lr: float = Field(2e-4, gt=0, description="Learning rate.")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam's beta1 and beta2.")
    eps: float = Field(1e-8, gt=0, description="Adam's epsilon.")
    weight_decay: float = Field(0.0, ge=0, description="Weight decay (decoupled for adamw).")
    grad_clip: float = Field(0.0, ge=0, description="Clip the gradient norm to this value (0 = off).")
    lr_multipliers: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description="Learning-rate factors for parts of the group: a key is a parameter-name prefix as in the "
        "model's named_parameters() (e.g. `motion_encoder` for a slot, `motion_encoder.head` for one module); "
        "the longest matching prefix wins, parameters no key matches keep `lr`.",
    )


class EMASection(StrictModel):
    """Exponential moving average of the generator's weights, used for samples and export."""

    enabled: bool = Field(False, description="Keep an EMA copy of the `ema_group` parameters.")
    decay: float = Field(0.999, gt=0, lt=1, description="EMA decay per step.")
    start: int = Field(0, ge=0, description="Step from which the EMA is updated (copied before).")
    group: str = Field("generator", description="Parameter group whose weights are averaged.")


class DistributedSection(StrictModel):
    """Multi-process training (``torchrun``); ignored by a single process."""

    backend: Literal["auto", "gloo", "nccl"] = Field(
        "auto", description="torch.distributed backend: `auto` = NCCL on CUDA devices, gloo on the CPU."
    )
    lr_scaling: Literal["none", "linear", "sqrt"] = Field(
        "none", description="Scale every learning rate by the world size (`linear`) or its square root (`sqrt`)."
    )
    sync_batchnorm: bool = Field(
        False, description="Convert BatchNorm layers to SyncBatchNorm (batch statistics over all processes; CUDA only)."
    )
    timeout_minutes: float = Field(
        10.0, gt=0, description="A collective (or process-group start) waiting longer than this fails the job."
    )


#: The keys ``vidgan_kit.eval.validate`` reports, each with True when higher is better: what
#: ``train.validate_metric`` may name and how ``train.keep_best`` compares it.
VALIDATION_METRICS: dict[str, bool] = {
    "val/recon_l1": False,
    "val/recon_psnr": True,
    "val/recon_ssim": True,
    "val/best_of_k_ssim": True,
    "val/best_of_k_psnr": True,
    "val/diversity": True,
    "val/transfer_l1": False,
    "val/transfer_psnr": True,
    "val/motion_gain_l1": True,
    "val/leakage_ratio": False,
}
#: The device names a recipe or a command may give (checked without asking the machine).
_DEVICE_NAME = re.compile(r"auto|cpu|cuda(:\d+)?")


def device_name_problem(name: object) -> str | None:
    """Why ``name`` is not a device name the toolkit runs on, or None; its syntax only, so a
    recipe for a GPU machine validates on a laptop."""
    if isinstance(name, str) and _DEVICE_NAME.fullmatch(name):
        return None
    return "not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'"


class TrainSection(StrictModel):
    """The generic training loop's settings."""

    steps: int = Field(10_000, ge=1, description="Total optimisation steps (iterations).")
    max_minutes: float = Field(
        0.0, ge=0, description="Stop after this much wall-clock training time, with a checkpoint (0 = no limit)."
    )
    device: str = Field("auto", description="`auto` (CUDA when present, else CPU), `cpu`, `cuda`, `cuda:1`, ...")
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="Autocast precision (fp16 only on CUDA).")
    channels_last: bool = Field(False, description="Use the channels_last memory format for 2D convolutions.")
    threads: int = Field(0, ge=0, description="CPU threads for torch (0 = torch's default).")
    deterministic: bool = Field(True, description="Ask torch for deterministic algorithms where they exist.")
    reuse_cpu_memory: bool = Field(
        True,
        description="On a CPU device, keep freed memory for the next step instead of page-faulting large tensors in"
        " anew (glibc malloc; no effect elsewhere; see vidgan_kit.training.memory).",
    )
    log_every: int = Field(10, ge=1, description="Write a metrics line every N steps.")
    diagnostics_every: int | None = Field(
        None,
        ge=1,
        description="Compute the model's diagnostics (diag/* in metrics.jsonl, read by its health warnings) every N"
        " steps (default: every log_every steps). They are an extra forward pass without gradients: Dual-MTGAN's"
        " takes about a sixth of an fp32 training step at 64x64, batch 16.",
    )
    sample_every: int = Field(500, ge=0, description="Write a sample grid every N steps (0 = never).")
    checkpoint_every: int = Field(1000, ge=1, description="Write a checkpoint every N steps (and at the end).")
    keep_checkpoints: int = Field(3, ge=1, description="How many of the newest checkpoints to keep.")
    tensorboard: bool = Field(True, description="Also log to TensorBoard when it is installed.")
    ema: EMASection = Field(default_factory=EMASection)
    distributed: DistributedSection = Field(default_factory=DistributedSection)
    validate_every: int = Field(
        0, ge=0, description="Score fixed test clips with vidgan_kit.eval.validate every N steps (0 = never)."
    )
    validate_metric: str = Field(
        "val/best_of_k_ssim",
        description="Validation key that keep_best compares (see vidgan_kit.eval.validation.VALIDATION_METRICS).",
    )
    keep_best: bool = Field(False, description="Keep a weights-only checkpoint of the best validate_metric in <run>/best.")

    @property
    def diagnostics_period(self) -> int:
        """Steps between two calls of the model's diagnostics: ``diagnostics_every``, else ``log_every``."""
        return self.diagnostics_every or self.log_every

    @field_validator("device")
    @classmethod
    def _device_name(cls, value: str) -> str:
        problem = device_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("validate_metric")
    @classmethod
    def _known_validation_metric(cls, value: str) -> str:
        if value not in VALIDATION_METRICS:
            raise ValueError(f"unknown validation metric {value!r}; choose one of {', '.join(VALIDATION_METRICS)}")
        return value


def _unique_phase_names(phases: list[PhaseSpec]) -> list[PhaseSpec]:
    names = [p.name for p in phases]
    if len(set(names)) != len(names):
        raise ValueError(f"phase names must be unique, got {names}")
    return phases


def _default_phases() -> list[PhaseSpec]:
    return [PhaseSpec(name="discriminator"), PhaseSpec(name="generator")]


class Recipe(StrictModel):
    """A fully validated recipe: every component resolved against the registry."""

    name: str = Field("run", description="Default run name (the run directory is runs/<name>).")
    seed: int = Field(0, description="Seed of every random number generator.")
    plugins: list[str] = Field(default_factory=list, description="Extra plugin modules or .py files.")
    video: VideoSection = Field(default_factory=VideoSection)
    data: ComponentSpec = Field(description="The dataset component.")
    loader: LoaderSection = Field(default_factory=LoaderSection)
    model: ComponentSpec = Field(description="The model assembly and its slots.")
    losses: dict[str, LossTerm] = Field(default_factory=dict, description="Named loss terms.")
    phases: list[PhaseSpec] = Field(default_factory=_default_phases, description="Phases of one iteration.")
    optimizers: dict[str, OptimizerSpec] = Field(default_factory=dict, description="Optimiser per parameter group.")
    train: TrainSection = Field(default_factory=TrainSection)

    _unique_phases = field_validator("phases")(classmethod(lambda cls, v: _unique_phase_names(v)))

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2)

    def to_table(self) -> dict[str, Any]:
        """The recipe in its TOML form (component tables flattened), for re-validation."""
        d = self.model_dump(mode="json")
        d["data"] = self.data.to_table()
        d["model"] = _spec_to_table(self.model)
        d["losses"] = {
            k: {**term.spec.to_table(), "weight": term.weight, "start": term.start, "ramp": term.ramp,
                "enabled": term.enabled}
            for k, term in self.losses.items()
        }
        return d


def _spec_to_table(spec: ComponentSpec) -> dict[str, Any]:
    table: dict[str, Any] = {"type": spec.type}
    for k, v in spec.params.items():
        if isinstance(v, dict) and "type" in v and "params" in v:
            table[k] = _spec_to_table(ComponentSpec.model_validate(v))
        else:
            table[k] = v
    return table


# -- reading ---------------------------------------------------------------------


def read_recipe_table(path: str | Path) -> dict[str, Any]:
    """Parse a TOML recipe file, merged onto the recipe it ``extends`` (if any); syntax errors
    name the file and line."""
    return _read_extended(Path(path), ())


def _read_extended(p: Path, children: tuple[Path, ...]) -> dict[str, Any]:
    table = _read_toml(p)
    base = table.pop("extends", None)
    if base is None:
        return table
    if not isinstance(base, str) or not base.strip():
        raise RecipeError([RecipeIssue("extends", "must name another recipe file, e.g. extends = \"dual_mtgan.toml\"")],
                          source=str(p))
    base_path = Path(base) if Path(base).is_absolute() else p.parent / base
    if not base_path.is_file():
        raise RecipeError([RecipeIssue("extends", f"{base!r}: no recipe file at {base_path}")], source=str(p))
    chain = (*children, p.resolve())
    if base_path.resolve() in chain:
        loop = " -> ".join(str(c) for c in (*chain, base_path.resolve()))
        raise RecipeError([RecipeIssue("extends", f"recipes extend each other in a loop: {loop}")], source=str(p))
    parent = _read_extended(base_path, chain)
    plugins = parent.get("plugins")
    if isinstance(plugins, list):  # a base's .py plugins stay relative to the base's folder
        parent["plugins"] = [
            str(base_path.resolve().parent / s) if isinstance(s, str) and s.endswith(".py") and not Path(s).is_absolute() else s
            for s in plugins
        ]
    return merge_recipe_tables(parent, table)


def merge_recipe_tables(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` merged onto ``base``: tables key by key, a table naming another component
    ``type`` and every other value replacing the base's."""
    out = copy.deepcopy(base)
    for key, value in child.items():
        under = out.get(key)
        if isinstance(value, dict) and isinstance(under, dict) and value.get("type", under.get("type")) == under.get("type"):
            out[key] = merge_recipe_tables(under, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_toml(p: Path) -> dict[str, Any]:
    if p.is_dir():
        raise RecipeError([RecipeIssue("", f"recipe {str(p)!r} is a folder; pass the recipe's .toml file")])
    if not p.is_file():
        raise RecipeError([RecipeIssue("", f"recipe file {str(p)!r} does not exist")])
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError([RecipeIssue("", f"not valid TOML: {exc}")], source=str(p)) from None
    except UnicodeDecodeError as exc:
        raise RecipeError([RecipeIssue("", f"not UTF-8 text (byte {exc.start}); save the recipe as UTF-8")],
                          source=str(p)) from None
    except OSError as exc:
        raise RecipeError([RecipeIssue("", f"cannot be read: {exc.strerror or exc}")], source=str(p)) from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b.c=value"`` → (["a", "b", "c"], value); the value is read as TOML, else as a string."""
    if "=" not in text:
        raise RecipeError([RecipeIssue("", f"override {text!r} must look like section.key=value")])
    key, raw = text.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise RecipeError([RecipeIssue("", f"override {text!r} has an empty key segment")])
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # bare words are strings: --set model.type=dual_mtgan
    return parts, value


def apply_overrides(table: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``table`` with ``--set`` overrides applied (validation happens later)."""
    out = copy.deepcopy(table)
    issues = []
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                issues.append(RecipeIssue(".".join(parts[: i + 1]), f"is a value, not a table; cannot set {text!r}"))
                break
            node = nxt
        else:
            node[parts[-1]] = value
    if issues:
        raise RecipeError(issues, source="--set")
    return out


# -- validation --------------------------------------------------------------------


class _RecipeShape(StrictModel):
    """The recipe with component tables left raw; they are walked against the registry."""

    name: str = "run"
    seed: int = 0
    plugins: list[str] = []
    video: VideoSection = VideoSection()
    data: dict[str, Any]
    loader: LoaderSection = LoaderSection()
    model: dict[str, Any]
    losses: dict[str, dict[str, Any]] = {}
    phases: list[PhaseSpec] = Field(default_factory=_default_phases)
    optimizers: dict[str, OptimizerSpec] = {}
    train: TrainSection = TrainSection()

    _unique_phases = field_validator("phases")(classmethod(lambda cls, v: _unique_phase_names(v)))


def validate_recipe(table: dict[str, Any], registry: ComponentRegistry, source: str | None = None) -> Recipe:
    """Validate a parsed recipe against the registry; raises :class:`RecipeError` with every issue."""
    issues: list[RecipeIssue] = []
    shape = None
    try:
        shape = _RecipeShape.model_validate(table)
    except ValidationError as err:
        issues.extend(issues_from_pydantic(err, "", _RecipeShape))
    raw_data = table.get("data")
    raw_model = table.get("model")

    data = validate_component(registry, "dataset", raw_data, "data", issues) if isinstance(raw_data, dict) else None
    model = validate_component(registry, "model", raw_model, "model", issues) if isinstance(raw_model, dict) else None

    losses: dict[str, LossTerm] = {}
    raw_losses = table.get("losses", {})
    if isinstance(raw_losses, dict):
        for name, loss_table in raw_losses.items():
            path = f"losses.{name}"
            if not isinstance(loss_table, dict):
                continue  # already reported by the shape check
            schedule = {k: loss_table[k] for k in LOSS_SCHEDULE_KEYS if k in loss_table}
            component = {k: v for k, v in loss_table.items() if k not in LOSS_SCHEDULE_KEYS}
            resolved = validate_component(registry, "loss", component, path, issues, LOSS_SCHEDULE_KEYS)
            try:
                term_schedule = _LossSchedule.model_validate(schedule)
            except ValidationError as err:
                issues.extend(issues_from_pydantic(err, path, _LossSchedule))
                continue
            if resolved is not None:
                losses[name] = LossTerm(spec=resolved[0], **term_schedule.model_dump())

    if shape is not None:
        issues.extend(_check_phases(shape, losses, registry))

    if issues or shape is None or data is None or model is None:
        raise RecipeError(issues, source=source)
    return Recipe(
        name=shape.name,
        seed=shape.seed,
        plugins=shape.plugins,
        video=shape.video,
        data=data[0],
        loader=shape.loader,
        model=model[0],
        losses=losses,
        phases=shape.phases,
        optimizers=shape.optimizers,
        train=shape.train,
    )


class _LossSchedule(StrictModel):
    weight: float = Field(1.0, ge=0)
    start: int = Field(0, ge=0)
    ramp: int = Field(0, ge=0)
    enabled: bool = True


def _check_phases(shape: _RecipeShape, losses: dict[str, LossTerm], registry: ComponentRegistry) -> list[RecipeIssue]:
    """Every loss must feed at least one declared phase."""
    issues = []
    phase_names = {p.name for p in shape.phases}
    for name, term in losses.items():
        factory = registry.get("loss", term.spec.type).factory
        declared = set(getattr(factory, "phases", ("generator",)))
        if not declared & phase_names:
            issues.append(
                RecipeIssue(
                    f"losses.{name}",
                    f"contributes to phases {sorted(declared)} but the recipe's phases are {sorted(phase_names)}",
                )
            )
    return issues


def load_recipe(
    path: str | Path,
    registry: ComponentRegistry,
    overrides: list[str] | None = None,
) -> Recipe:
    """Read, override and validate a recipe file in one go."""
    table = read_recipe_table(path)
    table = apply_overrides(table, overrides or [])
    return validate_recipe(table, registry, source=str(path))


def recipe_plugins(table: dict[str, Any], recipe_path: str | Path | None) -> list[str]:
    """The ``plugins = [...]`` list, with ``.py`` paths made relative to the recipe's folder."""
    specs = table.get("plugins") or []
    if not isinstance(specs, list):
        return []
    base = Path(recipe_path).parent if recipe_path else Path.cwd()
    out = []
    for spec in specs:
        if not isinstance(spec, str):
            continue  # validation reports it, with its place in the list
        if spec.endswith(".py") and not Path(spec).is_absolute():
            spec = str(base / spec)
        out.append(spec)
    return out


__all__ += ["recipe_plugins"]
