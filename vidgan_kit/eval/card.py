"""The metric card: every number of an evaluation beside every choice that produced it.

``metric_card.json`` is a :class:`MetricCard` (pydantic, unknown keys forbidden), so a card
can be validated when read back (``MetricCard.model_validate_json(text)``) and two cards
compared field by field. The protocol choices that change numbers (K, selection rule,
scored frames, SSIM window and padding, PSNR cap, resize, CI method, seeds, clip count,
checkpoint hash, library versions) are fields, not prose.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import platform
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .results import (
    DisentanglementResult,
    FVDResult,
    RealTransferResult,
    ReconstructionResult,
    StochasticResult,
    TransferResult,
)

__all__ = [
    "CARD_SCHEMA",
    "CARD_VERSION",
    "Protocol",
    "CheckpointInfo",
    "DataInfo",
    "ProtocolSettings",
    "MetricCard",
    "checkpoint_sha256",
    "library_versions",
]

CARD_SCHEMA = "vidgan-metric-card"
CARD_VERSION = 1
Protocol = Literal["paper", "transfer", "all"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class CheckpointInfo(_Strict):
    path: str
    step: int | None
    sha256: str = Field(description="sha256 over the checkpoint's model files (see checkpoint_sha256).")
    files_hashed: list[str]
    weights: Literal["ema", "raw"]
    model: str


class DataInfo(_Strict):
    source: str = Field(description="The recipe or folder given with --data, or the checkpoint's own recipe.")
    dataset: str
    params: dict[str, Any]
    split: str
    split_mode: str | None = Field(None, description="How the data set splits (by_identity, by_time, ...).")
    clips: int = Field(description="Clips actually evaluated.")
    clips_available: int
    clip_selection: str
    identities: list[str] | None = Field(
        None, description="Identities of the evaluated clips (None where the data gives no identities)."
    )
    identities_in_train: list[str] | None = Field(
        None, description="Those of them the train split also holds ([]: every evaluated identity is held out)."
    )
    frames: int
    height: int
    width: int
    channels: int
    resize: str


class ProtocolSettings(_Strict):
    protocol: Protocol
    samples_k: int
    selection: list[str] = Field(description="Selection rules reported: per_metric, joint, mean_of_k.")
    joint_by: str
    scored_frames: list[int]
    conditioning_frame: int
    conditioning_frame_excluded: bool
    value_range: str
    metrics: dict[str, dict[str, Any]] = Field(description="Each metric's describe(): implementation, window, cap...")
    ci_level: float
    ci_method: str
    ci_over: str
    seed: int
    sample_seed_rule: str
    transfer_kind: Literal["ground_truth", "real_clips"] | None = Field(
        None, description="How the transfer protocol scored: against synthetic ground truth, or by self-transfer on "
        "real clips (right, wrong, zero and mean motion codes, static)."
    )
    transfer_pairs: int | None = None
    leakage_triples: int | None = None
    model_options: list[str] = Field(
        default_factory=list, description="Model options changed from the checkpoint's for this evaluation (--model-set)."
    )
    fvd: bool
    fvd_fake_set: str | None = None
    device: str


class MetricCard(_Strict):
    """Everything ``vidgan eval`` measured and how (``metric_card.json``)."""

    schema_: Literal["vidgan-metric-card"] = Field(CARD_SCHEMA, alias="schema")
    schema_version: Literal[1] = CARD_VERSION
    created: str
    command: str | None = None
    checkpoint: CheckpointInfo
    data: DataInfo
    settings: ProtocolSettings
    stochastic: StochasticResult | None = None
    reconstruction: ReconstructionResult | None = None
    fvd: FVDResult | None = None
    transfer: TransferResult | None = None
    disentanglement: DisentanglementResult | None = None
    real_transfer: RealTransferResult | None = None
    versions: dict[str, str]
    notes: list[str] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, protected_namespaces=())

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, by_alias=True)


#: Files that define a checkpoint's model (training state is left out: it does not change outputs).
_MODEL_FILES = ("index.json", "config.json", "model.safetensors")


def checkpoint_sha256(ckpt: str | Path) -> tuple[str, list[str]]:
    """sha256 over the checkpoint's JSON and safetensors files that define the model.

    Files are taken in sorted relative-path order; each contributes its path, a NUL, its
    bytes' own sha256 and a newline, so renaming or moving a file changes the hash too.
    ``training_state.*`` (optimiser moments, RNG states) is excluded.
    """
    root = Path(ckpt)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name in _MODEL_FILES)
    h = hashlib.sha256()
    rel = []
    for p in files:
        name = p.relative_to(root).as_posix()
        rel.append(name)
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        h.update(f"{name}\0{digest}\n".encode())
    return h.hexdigest(), rel


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("vidgan-kit", "torch", "kornia", "numpy", "pillow", "safetensors", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
