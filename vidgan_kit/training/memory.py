"""CPU memory reuse while training: glibc's malloc keeps freed blocks for the next step.

Why. glibc serves every allocation above its mmap threshold (at most 32 MiB, often far less)
with a fresh ``mmap`` and gives it back with ``munmap`` when freed. A training step on a
CPU allocates the same large activations and gradients every step, so every step the
kernel hands out, and zeroes, fresh pages for all of them: one page fault per 4 KiB, paid
by whichever operation first writes a new tensor. Keeping the memory saves that work, a
large share of a CPU training step. The PyTorch CPU tuning guides fix the same thing by
preloading jemalloc or tcmalloc; this does it with glibc's own switches, so nothing has to
be installed or preloaded.

What. Inside :func:`reuse_freed_memory`, glibc serves large blocks from the heap too
(``M_MMAP_MAX = 0``) and does not give the heap's free top back to the kernel
(``M_TRIM_THRESHOLD``), so the peak stays mapped and reused. On leaving, those two switches
get glibc's default values back (its mmap threshold stops adapting: mallopt(3)) and the free
memory is returned (``malloc_trim``). The settings are process-wide; off glibc Linux
(macOS, Windows, musl) nothing changes.

It holds in every precision and layout: reused memory is never read before it is written
(a kernel that reads unwritten memory misbehaves on fresh pages too).
"""

from __future__ import annotations

import ctypes
import platform
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

__all__ = ["reuse_freed_memory", "can_reuse_freed_memory"]

# mallopt parameters and glibc's defaults for them (malloc.h, mallopt(3)).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
#: Never trim: glibc stores the int as a size_t, so -1 is SIZE_MAX. (A training step at 64×64
#: frees more than the largest positive int, 2 GiB, at once; any finite threshold let the
#: next step fault that memory in again.)
_KEEP_TRIM_THRESHOLD = -1

_lock = threading.Lock()
_depth = 0  # nested or concurrent users: the first switches on, the last switches off


@cache
def _glibc() -> ctypes.CDLL | None:
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def can_reuse_freed_memory() -> bool:
    """Whether this process's allocator is glibc's, whose switches :func:`reuse_freed_memory` sets."""
    return _glibc() is not None


@contextmanager
def reuse_freed_memory(enabled: bool = True) -> Iterator[bool]:
    """Within the block, freed CPU memory stays with the process for reuse (glibc only).

    Yields whether the switches are on. ``enabled=False`` (a recipe's
    ``train.reuse_cpu_memory = false``) leaves the allocator alone.
    """
    global _depth
    libc = _glibc() if enabled else None
    if libc is None:
        yield False
        return
    with _lock:
        if _depth == 0:
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_TRIM_THRESHOLD)
        _depth += 1
    try:
        yield True
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)
