"""What the encoder stage of one request costs, per encoder and per CPU thread count.

    python -m bench.encoder_cost ENCODER [ENCODER ...] [--threads 1 2] [--rounds 3] [--json OUT.json]

Each encoder is loaded as the app loads it (TextEncoder: linear layers packed for oneDNN) and times
`encode([text])`, one sentence per call as a request has, on the everyday sentences. The encoders take turns
sentence by sentence, so load from other jobs on the machine hits them alike; the ratio to the first encoder
is the median of those turns' ratios. bench.latency gives the whole request and the server's peak memory.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

from bench.latency import p95, packaged_minilm
from mapper.device import cpu_threads
from mapper.encoder import TextEncoder
from mapper.evaluate import read_jsonl

SENTENCES = Path(__file__).parent / "everyday_sentences.jsonl"
WARM_UP = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("encoders", nargs="*", default=[packaged_minilm()],
                        help="Hub ids or folders; the first is the one the others are compared with")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="intra-op thread counts (default 1 2)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the sentences (default %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures, and the command, to this file")
    return parser.parse_args(argv)


def seconds(encoder: TextEncoder, text: str) -> float:
    start = time.perf_counter()
    encoder.encode([text])
    return time.perf_counter() - start


def measure(encoders: list[TextEncoder], texts: list[str], threads: int, rounds: int) -> list[dict]:
    """Per encoder: median and p95 ms per sentence, and the median ratio to the first encoder's same turn."""
    times: list[list[float]] = [[] for _ in encoders]
    with cpu_threads(threads), torch.inference_mode():
        for n, text in enumerate(texts * rounds):
            turn = [seconds(encoder, text) for encoder in encoders]
            if n >= WARM_UP:
                for column, value in zip(times, turn):
                    column.append(value)
    rows = []
    for encoder, column in zip(encoders, times):
        rows.append({
            "encoder": encoder.name_or_path, "threads": threads, "sentences": len(column),
            "p50_ms": round(statistics.median(column) * 1e3, 2),
            "p95_ms": round(p95(column) * 1e3, 2),
            "ratio_to_first": round(statistics.median(a / b for a, b in zip(column, times[0])), 3),
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        encoders = [TextEncoder.from_pretrained(name) for name in args.encoders]
        texts, _ = read_jsonl(SENTENCES)
    except (OSError, ValueError) as err:
        print(f"encoder_cost: error: {err}", file=sys.stderr)
        return 1
    load_at_start = round(os.getloadavg()[0], 2)
    print(f"{len(texts)} sentences x {args.rounds} rounds, one per call; load average {load_at_start:.2f}")
    sizes = {e.name_or_path: {"layers": e.model.config.num_hidden_layers, "hidden": e.hidden_size} for e in encoders}
    rows = [row for threads in args.threads for row in measure(encoders, texts, threads, args.rounds)]
    print(f"\n{'encoder':60}{'layers':>7}{'hidden':>7}{'threads':>8}{'p50 ms':>8}{'p95 ms':>8}{'x first':>8}")
    for row in rows:
        size = sizes[row["encoder"]]
        print(f"{row['encoder'][-60:]:60}{size['layers']:7d}{size['hidden']:7d}{row['threads']:8d}{row['p50_ms']:8.1f}"
              f"{row['p95_ms']:8.1f}{row['ratio_to_first']:8.2f}")
    if args.json:
        command = shlex.join(["python", "-m", "bench.encoder_cost", *(sys.argv[1:] if argv is None else argv)])
        report = {"command": command, "sizes": sizes, "rows": rows,
                  "load_average": [load_at_start, round(os.getloadavg()[0], 2)]}
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
