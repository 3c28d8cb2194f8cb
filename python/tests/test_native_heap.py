"""keep_freed_blocks: the next step finds the blocks the last one freed resident, instead of faulting them in again."""

import platform
import resource

import pytest
import torch

from dien.native_heap import keep_freed_blocks


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt: Linux with glibc only")
def test_kept_blocks_serve_the_next_step_without_new_page_faults():
    assert keep_freed_blocks(), "glibc takes both settings"

    # A step's worth of large tensors (12 x 8 MiB), freed together: by glibc's defaults the 96 MiB free top of the heap
    # goes back to the system and the next step faults every page in again.
    def step():
        tensors = [torch.ones(2 * 1024 * 1024) for _ in range(12)]
        del tensors

    # One torch thread, so the tensors are filled on this thread, and this thread's faults only; a few steps first,
    # so that the steps' frees leave the same free lists and each step takes the blocks the last one freed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(3):
            step()
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        step()
        faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before
    finally:
        torch.set_num_threads(threads)
    pages = 12 * 2 * 1024 * 1024 * 4 // resource.getpagesize()
    assert faults < pages // 4, f"{faults} page faults for {pages} pages the first step freed and glibc should have kept"
