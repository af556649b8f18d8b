"""The served app under load: concurrent clients, a fixed number of requests, every answer checked.

    python -m bench.load [--clients 32] [--requests 2000] [--mapper DIR] [--biggan DIR] [--json OUT]

Starts `python app.py` as a user would (the biggan-deep-128 config with random weights, or `--biggan`; the real
all-MiniLM-L6-v2; a trained mapper: `--mapper`, else one trained here on 50 classes and cached, as bench.latency
does) and drives it with `--clients` clients at once, each making its next request as soon as its last one is
done, until `--requests` have been made. The requests, in a seeded random order:

- 85% good: half through gradio_client (`Client.predict`), half as the REST API's curl user (POST
  /gradio_api/call/generate, read the event stream, fetch the PNGs), a third of those with only the text;
  1-4 images, a new text each (an everyday sentence and a number: no cached reading helps);
- 10% bad (empty, invisible or over-long text, settings out of range or of the wrong type, REST payloads with
  too many or no values), each of which must be refused with the message that names the fault;
- 5% disconnects: a REST client that closes the event stream mid-request, one that joins the queue and never
  reads it, a page closed mid-request (the browser's queue protocol), a gradio_client job cancelled.

An answer counts only if it has the PNGs asked for, of the generator's size, and the seed asked for; "lost" is
every request that was neither answered so nor refused with its message (must be 0). The client threads run
at a lower CPU priority than the server (on a shared machine they stand in for visitors elsewhere); the
generator's own batch-1 throughput is timed in this process, on the same BigGAN files, as the server runs it,
before the load and after every stretch of 500 requests, each of which is let finish first: with the machine
shared, the forwards then span the run as other jobs come and go. The server's resident memory is read at the
start (up and idle) and after every stretch, and the CPU seconds the server and the clients used while loaded (on
one machine they share its cores); the throughput counts the stretches' time only.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from io import BytesIO
from pathlib import Path

import httpx
import torch
from gradio_client import Client
from PIL import Image

from bench.latency import (
    BENCH_CLASSES, add_model_arguments, biggan_folder, p95, page_inputs, start_server, wait_until_up,
)
from mapper.encoder import TextEncoder
from mapper.fallback import Recipe, fallback_mapper
from mapper.gan import Generator
from mapper.pipeline import MAX_TEXT_CHARS

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = [json.loads(line)["text"] for line in (ROOT / "bench" / "everyday_sentences.jsonl").open()]
SHARES = {"good": 0.85, "bad": 0.10, "disconnect": 0.05}
MEMORY_EVERY = 500  # requests in a stretch: then the server's memory is read and the generator timed
TIMEOUT_S = 600  # a request not answered by then is lost
FORWARDS = 10  # generator forwards timed before the load and after each stretch of it
CLIENT_NICENESS = 10  # added to the client threads' own, so the server keeps the cores
# /generate takes [text, truncation=0.4, seed=-1, num_images=1, blend=0.5, per_image_classes=false,
# resolution=<the served BigGAN's>]: refusals are matched after that signature, which names the resolution.
GENERATE_VALUES = 7
SEED_RANGE = "seed must be a whole number from 0 to 4,294,967,295"
# (values sent, the message they must be refused with, whether only REST can send them)
BAD = [
    (["", 0.4, 1, 1, 0.5], "please type some text", False),
    (["\u200b\x00\ufeff", 0.4, 1, 1, 0.5], "please type some text", False),
    (["x" * (MAX_TEXT_CHARS + 1), 0.4, 1, 1, 0.5], f"text is {MAX_TEXT_CHARS + 1:,} characters", False),
    (["a cat", 0.4, 1, 9, 0.5], "number of images must be a whole number from 1 to 4, got 9", False),
    (["a cat", "wild", 1, 1, 0.5], "truncation must be a number in (0, 1], got a str", False),
    (["a cat", 0.4, -5, 1, 0.5], f"{SEED_RANGE}, got -5", False),
    (["a cat", 0.4, "abc"], f"{SEED_RANGE}, got a str", True),
    (["a cat", 0.4, 1, 1, 0.5, False, 128, 7], f"]: {GENERATE_VALUES} values at most, got 8", True),
    ([], "]: no value for text, which has no default", True),
]
DISCONNECTS = ["REST stream closed", "REST never read", "page closed", "gradio_client cancelled"]


@dataclass
class Request:
    index: int
    kind: str  # good, bad, disconnect
    way: str  # gradio_client, REST, REST text only, or one of DISCONNECTS
    values: list  # what is sent, in /generate's order
    expected: str | None = None  # for a bad request: the message it must be refused with

    @property
    def images(self) -> int:
        return 1 if self.way == "REST text only" else self.values[3]


@dataclass
class Outcome:
    index: int
    kind: str
    way: str
    result: str  # answered, refused, disconnected, lost
    seconds: float
    images: int = 0
    why: str = ""  # for a lost request


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--clients", type=int, default=32, help="clients at once (default %(default)s)")
    add("--requests", type=int, default=2000, help="requests in all (default %(default)s)")
    add("--biggan", type=Path, help="a BigGAN folder (default: the biggan-deep-128 config with random weights)")
    add_model_arguments(parser)
    add("--seed", type=int, default=0, help="of the request mix (default %(default)s)")
    add("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


# --- the requests ------------------------------------------------------------------------------------------


def plan(count: int, seed: int) -> list[Request]:
    """`count` requests in the shares of SHARES, in a random order that `seed` fixes."""
    rng = random.Random(seed)
    kinds = [kind for kind, share in SHARES.items() for _ in range(round(count * share))]
    kinds = (kinds + ["good"] * count)[:count]
    rng.shuffle(kinds)
    requests = []
    for index, kind in enumerate(kinds):
        values = [f"{rng.choice(SENTENCES)} (take {index})", rng.choice([0.3, 0.4, 0.5, 0.7, 1.0]),
                  rng.randrange(2**32), rng.randint(1, 4), rng.choice([0.0, 0.25, 0.5, 1.0])]
        if kind == "good":
            way = rng.choice(["gradio_client", "gradio_client", "gradio_client", "REST", "REST", "REST text only"])
            requests.append(Request(index, kind, way, values[:1] if way == "REST text only" else values))
        elif kind == "bad":
            bad_values, expected, rest_only = rng.choice(BAD)
            way = "REST" if rest_only or rng.random() < 0.5 else "gradio_client"
            requests.append(Request(index, kind, way, list(bad_values), expected))
        else:
            requests.append(Request(index, kind, rng.choice(DISCONNECTS), values))
    return requests


class Caller:
    """One client: its own gradio_client Client and HTTP connection, used for one request at a time."""

    def __init__(self, url: str, downloads: Path, image_size: int, rng: random.Random):
        self.url, self.image_size, self.rng = url, image_size, rng
        self.client = Client(url, verbose=False, download_files=str(downloads))
        self.http = httpx.Client(base_url=url + "gradio_api/", timeout=TIMEOUT_S)
        self.fn_index, self.page_defaults = page_inputs(self.http.get(url + "config").json())

    def __call__(self, request: Request) -> Outcome:
        start = time.perf_counter()
        try:
            if request.kind == "disconnect":
                self.disconnect(request)
                result, images, why = "disconnected", 0, ""
            elif request.way == "gradio_client":
                result, images, why = self.by_client(request)
            else:
                result, images, why = self.by_rest(request)
        except Exception as err:  # noqa: BLE001 - whatever went wrong, the request is lost: say how
            result, images, why = "lost", 0, f"{type(err).__name__}: {err}"[:300]
        return Outcome(request.index, request.kind, request.way, result, time.perf_counter() - start, images, why)

    def checked_images(self, pngs: list[bytes], request: Request) -> str:
        """Why these are not the images asked for, or ''."""
        if len(pngs) != request.images:
            return f"{len(pngs)} images for {request.images}"
        for png in pngs:
            with Image.open(BytesIO(png)) as image:
                if image.format != "PNG" or image.size != (self.image_size, self.image_size):
                    return f"a {image.format} of {image.size}"
        return ""

    def judged(self, request: Request, pngs: list[bytes] | None, seed: object, message: str | None) -> tuple:
        """(result, images, why) from what came back: images and their seed, or a refusal's message."""
        if request.kind == "bad":
            if message is not None and request.expected in message:
                return "refused", 0, ""
            return "lost", 0, f"expected {request.expected!r}, got {message!r}"
        if pngs is None:
            return "lost", 0, f"refused: {message!r}"
        if why := self.checked_images(pngs, request):
            return "lost", 0, why
        if request.way != "REST text only" and seed != request.values[2]:
            return "lost", 0, f"seed {seed} for {request.values[2]}"
        return "answered", len(pngs), ""

    def by_client(self, request: Request) -> tuple:
        from gradio_client.exceptions import AppError

        try:
            gallery, _, seed = self.client.submit(*request.values, api_name="/generate").result(timeout=TIMEOUT_S)
        except AppError as err:
            return self.judged(request, None, None, str(err))
        pngs = [Path(item["image"]).read_bytes() for item in gallery]
        for item in gallery:
            shutil.rmtree(Path(item["image"]).parent, ignore_errors=True)
        return self.judged(request, pngs, seed, None)

    def by_rest(self, request: Request) -> tuple:
        posted = self.http.post("call/generate", content=json.dumps({"data": request.values}),
                                headers={"Content-Type": "application/json"})
        if posted.status_code != 200:
            return self.judged(request, None, None, str(posted.json().get("detail")))
        event, data = self.event(posted.json()["event_id"])
        if event == "complete":
            gallery, _, seed = data
            return self.judged(request, [self.http.get(item["image"]["url"]).content for item in gallery], seed, None)
        message = data.get("error") if isinstance(data, dict) else None
        return self.judged(request, None, None, message)

    def event(self, event_id: str) -> tuple[str | None, object]:
        """The event stream of a REST call, read to its end: (last event, its data)."""
        event = None
        with self.http.stream("GET", f"call/generate/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    return event, json.loads(line[5:])
        return event, None

    def disconnect(self, request: Request) -> None:
        """Start a request and walk away from it, after up to a second: queued, or already running."""
        wait = self.rng.uniform(0, 1)
        if request.way == "gradio_client cancelled":
            job = self.client.submit(*request.values, api_name="/generate")
            time.sleep(wait)
            job.cancel()
            return
        if request.way == "page closed":
            session = uuid.uuid4().hex
            values = [*request.values, *self.page_defaults[len(request.values):]]  # the page sends every input
            body = {"data": values, "fn_index": self.fn_index, "session_hash": session}
            self.http.post("queue/join", json=body).raise_for_status()
            with httpx.Client(timeout=TIMEOUT_S) as tab, tab.stream(
                "GET", self.url + "gradio_api/queue/data", params={"session_hash": session}
            ):
                time.sleep(wait)  # the tab closes: its connection goes with it
            return
        posted = self.http.post("call/generate", json={"data": request.values})
        posted.raise_for_status()
        if request.way == "REST stream closed":
            with httpx.Client(timeout=TIMEOUT_S) as own, own.stream(
                "GET", f"{self.url}gradio_api/call/generate/{posted.json()['event_id']}"
            ):
                time.sleep(wait)


# --- the run -----------------------------------------------------------------------------------------------


def resident_bytes(pid: int) -> int:
    """VmRSS: the memory the process holds now (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def forward_seconds(generator: Generator, count: int) -> list[float]:
    """`count` timed batch-1 forwards of the bare generator, as the server runs it, after one untimed."""
    cond = torch.cat([generator.noise(1, 0.4, seed=0), generator.class_embeddings[:1]], dim=1)
    times = []
    with torch.inference_mode():
        for _ in range(count + 1):
            start = time.perf_counter()
            generator.network(cond, 0.4)
            times.append(time.perf_counter() - start)
    return times[1:]


class Progress:
    """Outcomes as they come in, from every client thread, with a line on stderr every 5%."""

    def __init__(self, total: int):
        self.total, self.outcomes, self.lock = total, [], threading.Lock()

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)
            done, counts = len(self.outcomes), Counter(o.result for o in self.outcomes)
        if done % max(1, self.total // 20) == 0:
            print(f"  {done:5d}/{self.total} requests: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                  file=sys.stderr, flush=True)


def drive(callers: list[Caller], requests: list[Request], progress: Progress) -> float:
    """`requests` made by every caller at once, each taking the next as soon as its last is done, on threads
    of lower CPU priority; the seconds until the last one is done."""
    queue, lock = iter(requests), threading.Lock()
    niceness = os.getpriority(os.PRIO_PROCESS, 0) + CLIENT_NICENESS

    def client(caller: Caller) -> None:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)  # this thread, and those it starts
        while True:
            with lock:
                request = next(queue, None)
            if request is None:
                return
            progress.record(caller(request))

    start = time.perf_counter()
    with ThreadPoolExecutor(len(callers)) as pool:
        list(pool.map(client, callers))
    return time.perf_counter() - start


def models(args: argparse.Namespace) -> tuple[Path, Path, Generator]:
    """The BigGAN and mapper folders the server loads, and the generator timed here."""
    biggan = args.biggan or biggan_folder(args.workdir, args.class_embeddings)
    generator = Generator.from_pretrained(biggan)
    if args.mapper:
        return biggan, args.mapper, generator
    encoder = TextEncoder.from_pretrained(args.encoder)
    _, mapper = fallback_mapper(encoder, generator, Recipe(classes=BENCH_CLASSES), args.workdir)
    return biggan, mapper, generator


def summary(outcomes: list[Outcome], seconds: float, forwards: list[float], memory: dict[int, int],
            cpu: Counter, args: argparse.Namespace) -> dict:
    answered = [o for o in outcomes if o.result == "answered"]
    images = sum(o.images for o in answered)
    forward = statistics.median(forwards)
    latencies = [o.seconds for o in answered]
    return {
        "clients": args.clients, "requests": len(outcomes),
        "results": dict(Counter(o.result for o in outcomes)),
        "by_way": dict(sorted(Counter(f"{o.kind}, {o.way}: {o.result}" for o in outcomes).items())),
        "lost": [asdict(o) for o in outcomes if o.result == "lost"],
        "latency_s": {"p50": statistics.median(latencies), "p95": p95(latencies)} if latencies else None,
        "seconds": seconds, "images": images, "images_per_s": images / seconds,
        "forward_batch1_s": {"median": forward, "min": min(forwards), "max": max(forwards), "count": len(forwards)},
        "generator_images_per_s": 1 / forward,
        "throughput_ratio": images / seconds * forward,
        "server_rss_bytes": {str(k): v for k, v in sorted(memory.items())},
        "cpu_s": {"server": cpu["server"], "clients": cpu["clients"], "cores": os.cpu_count()},
        "load_average": os.getloadavg(),
    }


def report(figures: dict) -> None:
    results = figures["results"]
    print(f"\n{figures['requests']} requests, {figures['clients']} concurrent clients, {figures['seconds']:.0f} s")
    print("  " + ", ".join(f"{k} {results.get(k, 0)}" for k in ("answered", "refused", "disconnected", "lost"))
          + "   (lost must be 0)")
    for way, n in figures["by_way"].items():
        print(f"    {way:52} {n:5d}")
    for lost in figures["lost"][:10]:
        print(f"  lost: #{lost['index']} {lost['way']}: {lost['why']}")
    if latency := figures["latency_s"]:
        print(f"latency of answered requests: p50 {latency['p50']:.2f} s, p95 {latency['p95']:.2f} s")
    forward = figures["forward_batch1_s"]
    print(f"throughput: {figures['images']} images, {figures['images_per_s']:.2f} images/s; the generator alone, "
          f"batch 1: {figures['generator_images_per_s']:.2f} images/s (median of {forward['count']} forwards, "
          f"{forward['min'] * 1e3:.0f}-{forward['max'] * 1e3:.0f} ms); ratio {figures['throughput_ratio']:.3f}")
    cpu = figures["cpu_s"]
    print(f"CPU while loaded: server {cpu['server']:.0f} s, clients {cpu['clients']:.0f} s, of {cpu['cores']} cores x "
          f"{figures['seconds']:.0f} s = {cpu['cores'] * figures['seconds']:.0f} s")
    memory = figures["server_rss_bytes"]
    print("server resident memory: " + ", ".join(
        f"{'at the start' if k == '0' else f'after {k}'} {v / 2**30:.3f} GiB" for k, v in memory.items()))
    marks = [k for k in memory if k != "0"]
    if len(marks) >= 2:
        print(f"  after {marks[-1]} / after {marks[0]}: {memory[marks[-1]] / memory[marks[0]]:.3f}")
    print(f"load average at the end {figures['load_average'][0]:.2f}")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("mapper.fallback").setLevel(logging.INFO)  # the one-off training says what it does
    biggan, mapper, generator = models(args)
    requests = plan(args.requests, args.seed)
    marks = sorted({*range(MEMORY_EVERY, args.requests, MEMORY_EVERY), args.requests})
    print(f"load average {os.getloadavg()[0]:.2f}; BigGAN {biggan} ({generator.image_size} px, "
          f"{'folded' if generator.optimized else 'eager'}), mapper {mapper}, encoder {args.encoder}", file=sys.stderr)
    forwards = forward_seconds(generator, FORWARDS)
    progress, seconds, cpu = Progress(args.requests), 0.0, Counter()
    with tempfile.TemporaryDirectory(prefix="text2biggan-load-") as scratch_dir:
        scratch = Path(scratch_dir)
        proc, url = start_server(biggan, mapper, args.encoder, scratch)
        try:
            wait_until_up(proc, url, scratch / "app.log")
            memory = {0: resident_bytes(proc.pid)}
            callers = [Caller(url, scratch / f"client-{i}", generator.image_size, random.Random(i))
                       for i in range(args.clients)]
            print(f"server up at {url}; {args.requests} requests from {args.clients} clients", file=sys.stderr)
            # In stretches, between which the server is idle: its memory is read, and the generator timed here,
            # so that the forwards span the run as the machine's other load comes and goes.
            for start, end in zip([0, *marks], marks):
                server_before, clients_before = cpu_seconds(proc.pid), time.process_time()
                seconds += drive(callers, requests[start:end], progress)
                cpu.update(server=cpu_seconds(proc.pid) - server_before, clients=time.process_time() - clients_before)
                if proc.poll() is not None:
                    raise RuntimeError(f"the server died ({proc.poll()}):\n{(scratch / 'app.log').read_text()}")
                memory[end] = resident_bytes(proc.pid)
                forwards += forward_seconds(generator, FORWARDS)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    figures = summary(sorted(progress.outcomes, key=lambda o: o.index), seconds, forwards, memory, cpu, args)
    report(figures)
    if args.json:
        command = shlex.join(["python", "-m", "bench.load", *(sys.argv[1:] if argv is None else argv)])
        written = {"command": command, "date": date.today().isoformat(), **figures}
        args.json.write_text(json.dumps(written, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()
