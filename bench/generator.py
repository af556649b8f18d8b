"""CPU time of one biggan-deep-128 forward (full config, random weights: same cost as real ones).

    python -m bench.generator [--repeats 10]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from mapper.gan import Generator
from mapper.testing import DEEP128_CONFIG, random_biggan


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    generator = Generator(random_biggan(DEEP128_CONFIG), "biggan-deep-128 (random weights)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {generator.device}")
    print("batch  median s/forward  s/image")
    for batch in (1, 4):
        vectors = generator.class_embeddings[:batch]
        seconds = median_seconds(lambda: generator.generate(vectors, 0.4, seed=0), args.repeats)
        print(f"{batch:5d}  {seconds:16.3f}  {seconds / batch:7.3f}")


if __name__ == "__main__":
    main()
