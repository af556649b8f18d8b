"""Every mapper architecture trained on the same dataset, scored on the held-out splits and on
everyday-sentence sets; optionally the data ablation (which sentence sources buy what).

    python -m bench.mapper_quality --dataset data/full --eval ../shared/eval/dev_natural.jsonl [--ablation] \
        [--mapper-dirs runs/default] [--json OUT.json]

Prints markdown tables (top-1 / top-5, train seconds, parameters); with --json, also writes every row and the
command that made it, which bench.figures draws. --mapper-dirs scores mappers already trained on this dataset
(their training time as train_mapper.py recorded it), so a figure need not wait for a retrain.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import date
from pathlib import Path

import torch

from mapper.dataset import load_dataset
from mapper.encoder import TextEncoder
from mapper.evaluate import accuracy, map_texts, read_jsonl
from mapper.models import ARCHITECTURES, DEFAULT_ARCH, Mapper, top_classes
from mapper.training import (
    EVAL_SPLITS,
    TrainConfig,
    class_mean_features,
    description_indices,
    evaluate_splits,
    map_indices,
    mapper_config,
    train,
)

ABLATION = {  # cumulative: each row adds sources to the one above
    "names only": ("name",),
    "+ hypernyms": ("name", "hypernym"),
    "+ glosses": ("name", "hypernym", "gloss"),
    "+ scenes": ("name", "hypernym", "gloss", "scene"),
    "+ hyponyms": ("name", "hypernym", "gloss", "scene", "hyponym"),
    "+ everyday words": ("name", "hypernym", "gloss", "scene", "hyponym", "everyday"),
    "+ family definitions": ("name", "hypernym", "gloss", "scene", "hyponym", "everyday", "family"),
    "+ descriptions (all)": ("name", "hypernym", "gloss", "scene", "hyponym", "everyday", "family", "description"),
}


def csls_penalty(mapped: torch.Tensor, class_embeddings: torch.Tensor, k: int = 10) -> torch.Tensor:
    """r_c: mean cosine of class c's embedding to its k nearest mapped training vectors (hubness)."""
    sims = torch.nn.functional.normalize(class_embeddings, dim=-1) @ torch.nn.functional.normalize(mapped, dim=-1).T
    return sims.topk(k, dim=-1).values.mean(-1)


def score_sets(mapper, encoder, sets, class_embeddings, csls=None) -> dict:
    out = {}
    for name, (texts, labels) in sets.items():
        _, top = top_classes(map_texts(encoder, mapper, texts), class_embeddings, k=5, csls=csls)
        out[name] = accuracy(top, labels)
    return out


def retrieval_baseline(dataset, descriptions: bool) -> Mapper:
    """No training: nearest class by cosine between the mean-pooled text and each class's mean training
    sentence, or its mean description, in the encoder's own space (the classifier's start, without the prior).
    No outside heads: untrained, they would blend random stand-in classes into every answer."""
    mapper = Mapper(mapper_config(dataset, "classifier", outside=False), dataset.class_embeddings).eval()
    indices = dataset.split_indices("train")
    indices = description_indices(dataset, indices) if descriptions else indices
    mapper.head.prototypes.data.copy_(class_mean_features(mapper, dataset, indices))
    return mapper


def row(name: str, metrics: dict, columns: list[str], extra: str) -> str:
    cells = " | ".join(f"{metrics[c]['top1']:.3f} / {metrics[c]['top5']:.3f}" if c in metrics else "-" for c in columns)
    return f"| {name} | {cells} | {extra} |"


def scored(mapper: Mapper, dataset, encoder, sets) -> dict:
    """Top-1 / top-5 on both held-out splits and every extra set."""
    return {**evaluate_splits(mapper, dataset), **score_sets(mapper, encoder, sets, dataset.class_embeddings)}


def variants(name: str, mapper: Mapper, dataset, encoder, sets, seconds: float | None) -> list[dict]:
    """One mapper's rows: as it is; a classifier also with its memory silenced (same weights); the default
    architecture also read out with CSLS."""
    rows = [{"name": name, "arch": mapper.config.arch, "variant": "full", "metrics": scored(mapper, dataset, encoder, sets),
             "seconds": seconds, "parameters": mapper.num_parameters()}]
    if mapper.is_classifier:
        weight, mapper.config.memory_weight = mapper.config.memory_weight, 0.0
        rows.append({**rows[0], "name": f"{name} without its memory", "variant": "without memory",
                     "metrics": scored(mapper, dataset, encoder, sets)})
        mapper.config.memory_weight = weight
    if mapper.config.arch == DEFAULT_ARCH:
        penalty = csls_penalty(map_indices(mapper, dataset, dataset.split_indices("train")), dataset.class_embeddings)
        rows.append({**rows[0], "name": f"{name} + CSLS readout", "variant": "csls",
                     "metrics": score_sets(mapper, encoder, sets, dataset.class_embeddings, csls=penalty)})
    return rows


def trained_seconds(folder: Path) -> float | None:
    """The training time train_mapper.py recorded beside a mapper, if it did."""
    metrics = folder / "metrics.json"
    return json.loads(metrics.read_text()).get("seconds") if metrics.is_file() else None


def extra(entry: dict) -> str:
    if entry["variant"] != "full":
        return "same model"
    seconds = "?" if entry["seconds"] is None else f"{entry['seconds']:.0f}"
    return f"{seconds} s, {entry['parameters']:,}" if entry["parameters"] else f"{seconds} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--eval", type=Path, nargs="*", default=[])
    parser.add_argument("--arch", nargs="*", default=sorted(ARCHITECTURES), help="architectures to train (default: all)")
    parser.add_argument("--mapper-dirs", type=Path, nargs="*", default=[],
                        help="mapper folders already trained on this dataset, scored as they are")
    parser.add_argument("--ablation", action="store_true", help="also train one arch on growing source sets")
    parser.add_argument("--ablation-arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCH, help="(default %(default)s)")
    parser.add_argument("--ablation-epochs", type=int, default=3, help="epochs per ablation run (default %(default)s)")
    parser.add_argument("--json", type=Path, help="also write every row, and the command, to this file")
    args = parser.parse_args(argv)

    torch.set_num_threads(torch.get_num_threads())
    dataset = load_dataset(args.dataset)
    encoder = TextEncoder.from_pretrained(dataset.manifest["encoder"])
    sets = {path.stem: read_jsonl(path) for path in args.eval}
    columns = [*EVAL_SPLITS, *sets]
    header = f"| mapper | {' | '.join(columns)} | train s, params |\n|---|{'---|' * len(columns)}---|"
    report = {
        "command": shlex.join(["python", "-m", "bench.mapper_quality", *(sys.argv[1:] if argv is None else argv)]),
        "date": date.today().isoformat(), "load_average": round(os.getloadavg()[0], 2),
        "dataset": {k: dataset.manifest[k] for k in ("sentences", "splits", "encoder", "gan")},
        "sets": {name: len(texts) for name, (texts, _) in sets.items()}, "columns": columns, "mappers": [],
    }

    def add(entries: list[dict], into: list[dict]) -> None:
        for entry in entries:
            into.append(entry)
            print(row(entry["name"], entry["metrics"], columns, extra(entry)), flush=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1) + "\n")

    print(f"dataset: {dataset.manifest['sentences']} sentences, encoder {dataset.manifest['encoder']}\n")
    print(header)
    for keys, descriptions in (("mean training sentence", False), ("descriptions", True)):
        baseline = retrieval_baseline(dataset, descriptions)
        add([{"name": f"retrieval in encoder space, class {keys} (no training)", "arch": "retrieval", "variant": "full",
              "metrics": scored(baseline, dataset, encoder, sets), "seconds": 0.0, "parameters": 0}], report["mappers"])
    for arch in args.arch:
        result = train(dataset, TrainConfig(arch=arch), progress=False)
        add(variants(arch, result.mapper, dataset, encoder, sets, result.seconds), report["mappers"])
    for folder in args.mapper_dirs:
        mapper = Mapper.from_pretrained(folder)
        mapper.check_compatible(dataset.manifest["encoder_sha256"], dataset.class_embeddings)
        add(variants(f"{mapper.config.arch} ({folder})", mapper, dataset, encoder, sets, trained_seconds(folder)), report["mappers"])

    if args.ablation:
        print(f"\nData ablation ({args.ablation_arch}, {args.ablation_epochs} epochs, same held-out splits):\n\n{header}")
        report["ablation"] = {"arch": args.ablation_arch, "epochs": args.ablation_epochs, "rows": []}
        for name, sources in ABLATION.items():
            config = TrainConfig(arch=args.ablation_arch, epochs=args.ablation_epochs, sources=sources)
            result = train(dataset, config, progress=False)
            add([{"name": name, "arch": args.ablation_arch, "variant": "full", "sources": list(sources),
                  "metrics": scored(result.mapper, dataset, encoder, sets), "seconds": result.seconds,
                  "parameters": None}], report["ablation"]["rows"])


if __name__ == "__main__":
    main()
