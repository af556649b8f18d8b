"""Where the models run: a GPU when there is one, a ZeroGPU Space's included, else the CPU.

On a ZeroGPU Space the `spaces` package must be imported before anything touches CUDA (hence here, at import,
before any device is chosen); models are then moved to "cuda" at start-up, and a real GPU is attached only
while a function wrapped in `spaces.GPU` runs. Where `spaces` is not installed, nothing changes.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

try:
    import spaces
except ImportError:
    spaces = None

import torch


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run the block with `count` intra-op CPU threads, then put the number back."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def on_gpu(fn: Callable) -> Callable:
    """`spaces.GPU(fn)` where the `spaces` package exists; elsewhere `fn` as is."""
    return fn if spaces is None else spaces.GPU(fn)
