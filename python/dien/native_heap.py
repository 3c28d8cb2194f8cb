"""Keeps the blocks a training step frees for the next step (glibc), as the .NET trainer does.

A step allocates tensors of the batch's padded width and frees them. By glibc's defaults a large block is mapped
afresh and unmapped on free, and a heap's free top is handed back by itself, so every step faults its pages in
again; on a virtual machine that is a large share of a step (the .NET ``TrainerOptions.KeepFreedMemoryWithinEpochs``
and docs/performance.md). Blocks up to 32 MiB then come from the heap and the heap keeps its free top. Process-wide;
a no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LARGEST_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
_KEPT_TOP = 1024 * 1024 * 1024


def keep_freed_blocks() -> bool:
    """True when glibc took both settings; False elsewhere (another C library, or not Linux)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Both set explicitly: setting either turns off glibc's dynamic adjustment of the two.
    return mallopt(_M_MMAP_THRESHOLD, _LARGEST_MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, _KEPT_TOP) == 1
