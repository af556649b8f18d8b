"""Every mapper architecture trained on the same dataset, scored on the held-out splits and on
everyday-sentence sets; optionally the data ablation (which sentence sources buy what).

    python -m bench.mapper_quality --dataset data/full --eval ../shared/eval/dev_natural.jsonl [--ablation]

Prints markdown tables (top-1 / top-5, train seconds, parameters).
"""
from __future__ import annotations

import argparse
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
    sentence, or its mean description, in the encoder's own space (the classifier's start, without the prior)."""
    mapper = Mapper(mapper_config(dataset, "classifier"), dataset.class_embeddings).eval()
    indices = dataset.split_indices("train")
    indices = description_indices(dataset, indices) if descriptions else indices
    mapper.head.prototypes.data.copy_(class_mean_features(mapper, dataset, indices))
    return mapper


def row(name: str, metrics: dict, columns: list[str], extra: str) -> str:
    cells = " | ".join(f"{metrics[c]['top1']:.3f} / {metrics[c]['top5']:.3f}" if c in metrics else "-" for c in columns)
    return f"| {name} | {cells} | {extra} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--eval", type=Path, nargs="*", default=[])
    parser.add_argument("--arch", nargs="*", default=sorted(ARCHITECTURES))
    parser.add_argument("--ablation", action="store_true", help="also train one arch on growing source sets")
    parser.add_argument("--ablation-arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCH, help="(default %(default)s)")
    parser.add_argument("--ablation-epochs", type=int, default=3, help="epochs per ablation run (default %(default)s)")
    args = parser.parse_args()

    torch.set_num_threads(torch.get_num_threads())
    dataset = load_dataset(args.dataset)
    encoder = TextEncoder.from_pretrained(dataset.manifest["encoder"])
    sets = {path.stem: read_jsonl(path) for path in args.eval}
    columns = [*EVAL_SPLITS, *sets]
    header = f"| mapper | {' | '.join(columns)} | train s, params |\n|---|{'---|' * len(columns)}---|"

    print(f"dataset: {dataset.manifest['sentences']} sentences, encoder {dataset.manifest['encoder']}\n")
    print(header)
    for keys, descriptions in (("mean training sentence", False), ("descriptions", True)):
        baseline = retrieval_baseline(dataset, descriptions)
        metrics = {**evaluate_splits(baseline, dataset), **score_sets(baseline, encoder, sets, dataset.class_embeddings)}
        print(row(f"retrieval in encoder space, class {keys} (no training)", metrics, columns, "0 s"), flush=True)
    for arch in args.arch:
        result = train(dataset, TrainConfig(arch=arch), progress=False)
        metrics = {**result.metrics, **score_sets(result.mapper, encoder, sets, dataset.class_embeddings)}
        print(row(arch, metrics, columns, f"{result.seconds:.0f} s, {result.mapper.num_parameters():,}"), flush=True)
        if result.mapper.is_classifier:  # the same weights, its memory of training sentences silenced
            weight, result.mapper.config.memory_weight = result.mapper.config.memory_weight, 0.0
            alone = {**evaluate_splits(result.mapper, dataset), **score_sets(result.mapper, encoder, sets, dataset.class_embeddings)}
            print(row(f"{arch} without its memory", alone, columns, "same model"), flush=True)
            result.mapper.config.memory_weight = weight
        if arch == DEFAULT_ARCH:
            train_idx = dataset.split_indices("train")
            penalty = csls_penalty(map_indices(result.mapper, dataset, train_idx), dataset.class_embeddings)
            csls = score_sets(result.mapper, encoder, sets, dataset.class_embeddings, csls=penalty)
            print(row(f"{arch} + CSLS readout", csls, columns, "same model"), flush=True)

    if args.ablation:
        print(f"\nData ablation ({args.ablation_arch}, {args.ablation_epochs} epochs, same held-out splits):\n\n{header}")
        for name, sources in ABLATION.items():
            config = TrainConfig(arch=args.ablation_arch, epochs=args.ablation_epochs, sources=sources)
            result = train(dataset, config, progress=False)
            metrics = {**result.metrics, **score_sets(result.mapper, encoder, sets, dataset.class_embeddings)}
            print(row(name, metrics, columns, f"{result.seconds:.0f} s"), flush=True)


if __name__ == "__main__":
    main()
