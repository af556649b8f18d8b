"""How well mappers tell what ImageNet lacks: the share of each set read as outside, by the mapper's own
OutsideHead and, as the alternative, by a score from its distribution (top class under a threshold).

    python -m bench.outside runs/default [runs/other ...] --dataset data/full [--json OUT]

Sets: bench/outside_texts.jsonl (texts ImageNet has no class for: should be flagged), and, never to be
flagged, bench/imagenet_prompts.jsonl, ../shared/eval/dev_natural.jsonl, the everyday and probe sets, and the
dataset's held-out templates and glosses; its held-out outside split should be. The distribution score's
threshold is the one that flags 3% of the held-out templates (picked on the dataset, not on these sets).
Also prints each outside text's top-3 readout for the first two mappers side by side (before / after).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from mapper.dataset import load_dataset
from mapper.encoder import TextEncoder
from mapper.models import OUTSIDE_THRESHOLD, Mapper
from mapper.reading import class_names
from mapper.sentences import HELDOUT_GLOSS, HELDOUT_OUTSIDE, HELDOUT_TEMPLATE
from mapper.training import outside_probabilities

BENCH = Path(__file__).parent
OUTSIDE_SET = BENCH / "outside_texts.jsonl"
INSIDE_SETS = [
    BENCH / "imagenet_prompts.jsonl", BENCH.parent.parent / "shared" / "eval" / "dev_natural.jsonl",
    BENCH / "everyday_sentences.jsonl", BENCH / "probe_sentences.jsonl",
]
FALSE_FLAG_RATE = 0.03  # the distribution score's threshold flags this share of the held-out templates


def texts_of(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


@torch.inference_mode()
def read_texts(encoder: TextEncoder, mapper: Mapper, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(probs (n, 1000), P(outside) (n,)) for raw texts."""
    probs, outside = [], []
    for i in range(0, len(texts), 64):
        encoded = encoder.encode(texts[i : i + 64])
        out = mapper.eval().read(encoded.hidden_states, encoded.attention_mask)
        probs.append(out.probs)
        outside.append(out.outside)
    return torch.cat(probs), torch.cat(outside)


@torch.inference_mode()
def dataset_reads(mapper: Mapper, dataset, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    indices = dataset.split_indices(split)
    probs = torch.cat([mapper.class_probabilities(*dataset.batch(indices[i : i + 512])) for i in range(0, len(indices), 512)])
    return probs, outside_probabilities(mapper, dataset, indices)


def measure(mapper: Mapper, encoder: TextEncoder, dataset) -> tuple[dict, dict[str, torch.Tensor]]:
    reads = {split: dataset_reads(mapper, dataset, split) for split in (HELDOUT_TEMPLATE, HELDOUT_GLOSS, HELDOUT_OUTSIDE)}
    for path in [OUTSIDE_SET, *INSIDE_SETS]:
        if path.exists():
            reads[path.stem] = read_texts(encoder, mapper, texts_of(path))
    threshold = float(reads[HELDOUT_TEMPLATE][0].max(-1).values.quantile(FALSE_FLAG_RATE))
    figures = {"distribution_threshold": round(threshold, 4), "sets": {}}
    for name, (probs, outside) in reads.items():
        figures["sets"][name] = {
            "n": len(probs),
            "head": round(float((outside > OUTSIDE_THRESHOLD).float().mean()), 4) if mapper.has_outside else None,
            "distribution": round(float((probs.max(-1).values < threshold).float().mean()), 4),
        }
    return figures, {name: probs for name, (probs, _) in reads.items()}


def top3(probs: torch.Tensor) -> str:
    top = probs.topk(3)
    return ", ".join(f"{class_names()[i]} {p:.2f}" for p, i in zip(top.values.tolist(), top.indices.tolist()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outside", description=__doc__.split("\n")[0])
    parser.add_argument("mappers", nargs="+", help="mapper folders")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder (its held-out splits)")
    parser.add_argument("--encoder", help="encoder Hub id or folder (default: the one the first mapper records)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset)
    mappers = {path: Mapper.from_pretrained(path) for path in args.mappers}
    encoder = TextEncoder.from_pretrained(args.encoder or next(iter(mappers.values())).config.encoder)
    results, readouts = {}, {}
    for path, mapper in mappers.items():
        results[path], readouts[path] = measure(mapper, encoder, dataset)

    names = list(next(iter(results.values()))["sets"])
    print("| set | n | " + " | ".join(f"{p}: head / distribution" for p in mappers) + " |")
    print("|---|---|" + "---|" * len(mappers))
    for name in names:
        cells = []
        for path in mappers:
            row = results[path]["sets"][name]
            head = "-" if row["head"] is None else f"{row['head']:.3f}"
            cells.append(f"{head} / {row['distribution']:.3f}")
        print(f"| {name} | {results[args.mappers[0]]['sets'][name]['n']} | " + " | ".join(cells) + " |")
    print("distribution thresholds (top class under):", {p: r["distribution_threshold"] for p, r in results.items()})

    shown = args.mappers[:2]
    print("\n| text | " + " | ".join(shown) + " |\n|---|" + "---|" * len(shown))
    for i, text in enumerate(texts_of(OUTSIDE_SET)):
        print(f"| {text} | " + " | ".join(top3(readouts[p][OUTSIDE_SET.stem][i]) for p in shown) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
