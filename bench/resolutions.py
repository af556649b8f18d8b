"""What each BigGAN-deep resolution costs: loading it, one image through the pipeline, a morph, and memory.

    python -m bench.resolutions [--repeats 3] [--threads N] [--mapper DIR] [--workdir DIR] [--json OUT.json]

Full biggan-deep-128, -256 and -512 configs with random weights (they cost what real ones do), the real
all-MiniLM-L6-v2 and a mapper of the default architecture (bench.latency's: the one given, else one trained on
50 classes and cached), in one process, as the app holds them: 128 loaded first, then 256 and 512 as their
first request would load them. Per resolution: the seconds that load takes (what a visitor's first request at
that size waits for), the median of `repeats` one-image requests (each a new text, so the encoder runs), the
process's memory (RSS) once it is loaded, and a morph of the default frame count, drawn and encoded (the
encoding's share and the file's size beside it: random weights' images need not compress as real ones do,
so the size is only indicative). Last, the peak RSS with all three loaded. The load average is printed
beside the figures: the machine may be shared.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

from bench.latency import BENCH_CLASSES, add_model_arguments, biggan_folder
from mapper.biggans import BigGANs
from mapper.encoder import TextEncoder
from mapper.fallback import Recipe, fallback_mapper
from mapper.gan import Generator
from mapper.models import Mapper
from mapper.morph import DEFAULT_FRAMES, morph_frames, to_webp
from mapper.pipeline import TextToImagePipeline
from mapper.testing import DEEP_CONFIGS

TEXTS = ["a tabby cat", "a red sports car", "an old castle", "a bowl of strawberries", "a lighthouse", "a taxi"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed one-image requests per size (default %(default)s)")
    add_model_arguments(parser)
    parser.add_argument("--threads", type=int, help="torch's CPU threads (default: torch's own, one per core); 1 on "
                        "a machine where other jobs hold a core, which otherwise stalls every parallel step")
    parser.add_argument("--json", type=Path, help="also write the figures, and the command, to this file")
    return parser.parse_args(argv)


def rss_mb() -> float:
    """This process's resident memory now (Linux's /proc; NaN elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
    except OSError:
        return float("nan")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folders = {size: biggan_folder(args.workdir, args.class_embeddings, size) for size in sorted(DEEP_CONFIGS)}
    encoder = TextEncoder.from_pretrained(args.encoder)
    start = time.perf_counter()
    default = Generator.from_pretrained(folders[128], "cpu")
    load_seconds = {128: time.perf_counter() - start}
    if args.mapper:
        mapper = Mapper.from_pretrained(args.mapper)
    else:
        mapper, _ = fallback_mapper(encoder, default, Recipe(classes=BENCH_CLASSES), args.workdir)
    pipeline = TextToImagePipeline(encoder, mapper, BigGANs(default, [folders[256], folders[512]]))
    rows = []
    for size in sorted(folders):
        if size not in load_seconds:
            start = time.perf_counter()
            pipeline.generator_for(size)
            load_seconds[size] = time.perf_counter() - start
        pipeline("a warm-up", seed=0, resolution=size)
        seconds = []
        for repeat in range(args.repeats):
            start = time.perf_counter()
            pipeline(f"{TEXTS[repeat % len(TEXTS)]} ({size}, {repeat})", seed=repeat, resolution=size)
            seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        frames, _, _ = morph_frames(pipeline, "a tabby cat", "a tiger", DEFAULT_FRAMES, 0.4, 1, 2, size)
        drawn = time.perf_counter()
        animation = to_webp(frames)
        rows.append({
            "resolution": size,
            "load_s": round(load_seconds[size], 2),
            "one_image_s": round(statistics.median(seconds), 3),
            "one_image_all_s": [round(s, 3) for s in seconds],
            f"morph_{DEFAULT_FRAMES}_frames_s": round(time.perf_counter() - start, 2),  # drawn and encoded
            "morph_encoding_s": round(time.perf_counter() - drawn, 2),
            "morph_webp_kb": round(len(animation) / 1024),
            "rss_after_load_mb": round(rss_mb()),
        })
        print(json.dumps(rows[-1]), f"(load average {os.getloadavg()[0]:.2f})", flush=True)
    result = {
        "command": shlex.join(["python", "-m", "bench.resolutions", *(argv if argv is not None else sys.argv[1:])]),
        "date": date.today().isoformat(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "rows": rows,
        "peak_rss_all_loaded_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(f"peak RSS with all three loaded: {result['peak_rss_all_loaded_mb']} MB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
