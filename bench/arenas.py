"""Why the served app's memory grew under load, and what stops it: the pipeline called as Gradio calls it.

    python -m bench.arenas {gradio-threads,model-thread,malloc-trim,arena-max-2} [--calls 250] [--mapper DIR]

bench.latency's models (full biggan-deep-128 config with random weights, all-MiniLM-L6-v2, a mapper), one
process. `calls` requests of 1-4 images, a new text each, made one at a time (as the queue lets them) from a
pool of 40 threads (Gradio's worker threads): whichever is free takes the next, runs the pipeline and writes
the PNGs as Gradio does. The process's resident memory is printed every 50 calls. The ways:

- gradio-threads: the pipeline runs on the calling thread, as it did in the app before mapper.model_thread;
- model-thread: on mapper.model_thread's one thread, as the app runs it now;
- malloc-trim: on the calling thread, with glibc's malloc_trim(0) after every call;
- arena-max-2: on the calling thread, with glibc's arenas limited to 2 (mallopt M_ARENA_MAX) before any start.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from gradio.processing_utils import save_pil_to_cache

from bench.latency import add_model_arguments, load
from bench.load import resident_bytes
from mapper.model_thread import on_model_thread

WAYS = ("gradio-threads", "model-thread", "malloc-trim", "arena-max-2")
GRADIO_THREADS = 40  # anyio's default thread limit, which Gradio's handlers run under
M_ARENA_MAX = -8  # glibc's mallopt parameter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("way", choices=WAYS)
    parser.add_argument("--calls", type=int, default=250, help="requests in all (default %(default)s)")
    add_model_arguments(parser)
    args = parser.parse_args(argv)
    libc = ctypes.CDLL("libc.so.6")
    if args.way == "arena-max-2":
        libc.mallopt(M_ARENA_MAX, 2)
    pipeline, _, _ = load(args)
    draw = on_model_thread(pipeline) if args.way == "model-thread" else pipeline
    turn, rng, scratch = threading.Lock(), random.Random(0), tempfile.mkdtemp(prefix="text2biggan-arenas-")

    def request(index: int) -> None:
        with turn:  # one at a time, as the queue runs them
            out = draw(f"a photo of thing {index}", rng.choice([0.3, 0.4, 1.0]), index, rng.randint(1, 4))
        for image in out.images:
            save_pil_to_cache(image, scratch, format="png")
        if args.way == "malloc-trim":
            libc.malloc_trim(0)

    def mib() -> int:
        return round(resident_bytes(os.getpid()) / 2**20)

    print(f"{args.way}: {mib()} MiB resident at the start")
    start = time.perf_counter()
    with ThreadPoolExecutor(GRADIO_THREADS) as pool:
        for done in range(50, args.calls + 50, 50):
            list(pool.map(request, range(done - 50, min(done, args.calls))))
            print(f"{args.way}: {mib()} MiB after {min(done, args.calls)} calls, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
