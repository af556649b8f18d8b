"""The models run on one thread of their own, whichever thread a request arrives on.

glibc's malloc gives a thread that allocates while another holds the main arena an arena of its own (up to 8 per
core) and keeps in each the most memory that thread's tensors ever took. Gradio runs a handler on whichever of its
worker threads is free, so with many clients each generation could land on another thread and the server's
resident memory grew by a few hundred MB as arenas filled (docs/report.md, "Under load"). Run on one thread, the
models' tensors come from one arena, which the next request reuses: the memory stops growing once warm.
"""
from __future__ import annotations

import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_executors: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def model_thread() -> ThreadPoolExecutor:
    """This process's model thread, started on first use. Per process: a worker forked from this one (as ZeroGPU
    runs a handler) inherits the executor but not its thread, and would wait on it for ever."""
    with _lock:
        if (pid := os.getpid()) not in _executors:
            _executors[pid] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="models")
        return _executors[pid]


def on_model_thread(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` run on the model thread, the caller waiting for it; with the caller's context variables, which Gradio's
    gr.Progress and gr.Info read."""

    @functools.wraps(fn)
    def run(*args: object, **kwargs: object) -> T:
        context = contextvars.copy_context()
        return model_thread().submit(context.run, fn, *args, **kwargs).result()

    return run
