"""Time of biggan-deep-128 images, eager vs folded (full config, random weights: same cost as real ones).

    python -m bench.generator [--repeats 10] [--json OUT.json]

Eager and folded runs alternate, so load from other processes slows both alike, and the share of
the machine that other processes took while timing is printed with each row. GFLOP/s are
against the eager model's FLOPs per image (what the image costs as defined), and against the
FLOPs the folded model executes (how busy it keeps the cores), next to the machine's peak: a
2048x2048 fp32 matmul measured in the same run.

Last, reduced precision, which the pipeline does not use: for fp16 and bf16, whether this CPU runs it
natively, how far a tiny random BigGAN's images move (in [-1, 1] and in 8-bit levels of the PNG), and
the eager full model's time where the CPU runs it natively.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count, register_flop_formula

from mapper.gan import Generator
from mapper.testing import DEEP128_CONFIG, TINY_BIGGAN_CONFIG, random_biggan

TRUNCATION = 0.4  # on the grid where eager reads its statistics exactly
MATMUL_SIZE = 2048
NATIVE = {  # dtype -> whether oneDNN runs it natively on this CPU
    torch.float16: torch.ops.mkldnn._is_mkldnn_fp16_supported,
    torch.bfloat16: torch.ops.mkldnn._is_mkldnn_bf16_supported,
}


@register_flop_formula(torch.ops.mkldnn._convolution_pointwise)
def packed_conv_flop(x_shape: list[int], w_shape: list[int], *args, out_shape: list[int], **kwargs) -> int:
    """FlopCounterMode knows no formula for oneDNN's packed convolution (fast_generator.FixedConv2d)."""
    return conv_flop_count(x_shape, w_shape, out_shape)


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def busy_cpu_seconds() -> float:
    """CPU time all processes have used since boot (Linux's /proc/stat; NaN elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, stat.readline().split()[1:9])
    except OSError:
        return float("nan")
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def others_share(fn: Callable[[], object]) -> tuple[object, float]:
    """fn's result, and the fraction of all cores that other processes used while it ran."""
    busy, own, start = busy_cpu_seconds(), sum(os.times()[:2]), time.perf_counter()
    result = fn()
    others = busy_cpu_seconds() - busy - (sum(os.times()[:2]) - own)
    return result, max(0.0, others) / ((time.perf_counter() - start) * os.cpu_count())


def alternating_medians(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median seconds of each fn, timed in turn, after one untimed call each."""
    for fn in fns:
        fn()
    times = [[seconds(fn) for fn in fns] for _ in range(repeats)]
    return [statistics.median(column) for column in zip(*times)]


def matmul_gflops(repeats: int) -> float:
    a, b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    (median,) = alternating_medians([lambda: a @ b], repeats)
    return 2 * MATMUL_SIZE**3 / median / 1e9


def gflops(fn: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write every figure, and the command, to this file")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "-m", "bench.generator", *(sys.argv[1:] if argv is None else argv)])
    report: dict = {"command": command, "date": date.today().isoformat(), "threads": torch.get_num_threads(), "batches": []}

    model = random_biggan(DEEP128_CONFIG)
    eager = Generator(model, "biggan-deep-128 (random weights)", optimize=False)
    build = time.perf_counter()
    folded = Generator(model, "biggan-deep-128 (random weights)")
    build = time.perf_counter() - build
    assert folded.optimized, "the folded generator fell back to eager: see the log"
    vectors = eager.class_embeddings

    def run(generator: Generator, batch: int) -> Callable[[], torch.Tensor]:
        return lambda: generator.generate(vectors[:batch], TRUNCATION, seed=0)

    print(f"device {eager.device}: {torch.get_num_threads()} threads, torch {torch.__version__}")
    peak, others = others_share(lambda: matmul_gflops(args.repeats))
    print(f"peak: {MATMUL_SIZE}x{MATMUL_SIZE} fp32 matmul {peak:.0f} GFLOP/s (others' CPU {others:.0%})")
    eager_flops, folded_flops = gflops(run(eager, 1)), gflops(run(folded, 1))
    report.update(matmul_peak_gflops=round(peak, 1), gflops_per_image={"eager": eager_flops, "folded": folded_flops})
    print(f"GFLOPs per image: eager {eager_flops:.2f}, folded executes {folded_flops:.2f}")
    print(f"folded generator built and checked against eager in {build:.2f} s")
    difference = (run(folded, 4)() - run(eager, 4)()).abs().max().item()
    print(f"max |folded - eager| over 4 images at truncation {TRUNCATION}: {difference:.2g}")
    report.update(build_s=round(build, 3), max_diff_folded_eager=difference)
    print()
    print("batch  eager s  folded s  speed-up  eager GFLOP/s  folded GFLOP/s (executed)  others' CPU")
    for batch in (1, 4):
        (eager_s, folded_s), others = others_share(
            partial(alternating_medians, [run(eager, batch), run(folded, batch)], args.repeats)
        )
        print(f"{batch:5d}  {eager_s:7.3f}  {folded_s:8.3f}  {eager_s / folded_s:7.2f}x  "
              f"{batch * eager_flops / eager_s:13.0f}  {batch * eager_flops / folded_s:14.0f} "
              f"({batch * folded_flops / folded_s:3.0f})  {others:10.0%}")
        report["batches"].append({"batch": batch, "eager_s": eager_s, "folded_s": folded_s, "others_cpu": others})
    report["dtypes"] = reduced_precision(args.repeats)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


def reduced_precision(repeats: int) -> list[dict]:
    """Per dtype: native or not, the tiny model's largest image difference, the full model's seconds."""
    print()
    print("dtype     native  tiny model max |diff|  in 8-bit levels  eager full model, batch 1")
    tiny, full = random_biggan(TINY_BIGGAN_CONFIG), random_biggan(DEEP128_CONFIG)
    cond, full_cond = (
        torch.cat([Generator(m, "", optimize=False).noise(n, TRUNCATION, seed=0), m.embeddings.weight.T[:n]], 1)
        for m, n in ((tiny, 4), (full, 1))
    )
    with torch.inference_mode():
        reference = tiny.generator(cond, TRUNCATION)
        (fp32_s,) = alternating_medians([partial(full.generator, full_cond, TRUNCATION)], repeats)
        print(f"float32   yes     {0:21.1e}  {0:15.2f}  {fp32_s:.3f} s")
        rows = [{"dtype": "float32", "native": True, "max_diff": 0.0, "eager_s": fp32_s}]
        for dtype, native in NATIVE.items():
            images = copy.deepcopy(tiny).to(dtype).generator(cond.to(dtype), TRUNCATION).float()
            difference = (images - reference).abs().max().item()
            low_s = None
            if native():
                low = copy.deepcopy(full).to(dtype)
                (low_s,) = alternating_medians([partial(low.generator, full_cond.to(dtype), TRUNCATION)], repeats)
            name = str(dtype).removeprefix("torch.")
            print(f"{name:8s}  {'yes' if native() else 'no':6s}  {difference:21.1e}  "
                  f"{difference * 127.5:15.2f}  {'-' if low_s is None else f'{low_s:.3f} s'}")
            rows.append({"dtype": name, "native": native(), "max_diff": difference, "eager_s": low_s})
    return rows


if __name__ == "__main__":
    main()
