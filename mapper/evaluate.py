"""Score a mapper on sentences with known right classes.

    python -m mapper.evaluate MAPPER_DIR FILE.jsonl [--encoder ID_OR_DIR] [--verbose]

FILE.jsonl: one {"text": ..., "labels": [ImageNet indices that count as right]} per line. The last line
printed is one JSON object {"n": ..., "top1": ..., "top5": ...}; top-1 means the nearest class of the
mapper's output vector is among the labels.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from mapper.encoder import TextEncoder
from mapper.models import Mapper, top_classes
from mapper.reading import class_names


def accuracy(top: torch.Tensor, labels: list[set[int]]) -> dict[str, float]:
    """Top-1 / top-5 from (n, >=5) ranked class indices."""
    rows = top.tolist()
    top1 = sum(r[0] in ok for r, ok in zip(rows, labels)) / len(labels)
    top5 = sum(bool(set(r[:5]) & ok) for r, ok in zip(rows, labels)) / len(labels)
    return {"top1": round(top1, 4), "top5": round(top5, 4)}


@torch.inference_mode()
def map_texts(encoder: TextEncoder, mapper: Mapper, texts: list[str], batch_size: int = 64) -> torch.Tensor:
    """(n, 128) mapper outputs for raw texts."""
    out = []
    for i in range(0, len(texts), batch_size):
        encoded = encoder.encode(texts[i : i + batch_size])
        out.append(mapper(encoded.hidden_states, encoded.attention_mask))
    return torch.cat(out)


def read_jsonl(path: Path) -> tuple[list[str], list[set[int]]]:
    texts, labels = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                item = json.loads(line)
                if not isinstance(item.get("text"), str) or not item.get("labels"):
                    raise ValueError(f"{path}:{n}: expected {{'text': str, 'labels': [int, ...]}}")
                texts.append(item["text"])
                labels.append(set(item["labels"]))
    return texts, labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mapper.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("mapper", help="mapper folder or Hub repo id")
    parser.add_argument("file", type=Path, help="JSONL of {text, labels}")
    parser.add_argument("--encoder", help="encoder Hub id or folder (default: the one the mapper records)")
    parser.add_argument("--verbose", action="store_true", help="print a line per sentence")
    args = parser.parse_args(argv)
    try:
        mapper = Mapper.from_pretrained(args.mapper)
        encoder = TextEncoder.from_pretrained(args.encoder or mapper.config.encoder)
        mapper.check_compatible(encoder.fingerprint, mapper.class_embeddings)
        texts, labels = read_jsonl(args.file)
    except (OSError, ValueError) as err:
        print(f"evaluate: error: {err}", file=sys.stderr)
        return 1
    scores, top = top_classes(map_texts(encoder, mapper, texts), mapper.class_embeddings, k=5)
    if args.verbose:
        names = class_names()  # the app's readout names: no WordNet needed
        for text, ok, s, t in zip(texts, labels, scores.tolist(), top.tolist()):
            mark = "ok " if t[0] in ok else ("top5" if set(t) & ok else "MISS")
            guesses = ", ".join(f"{names[c]} {v:.2f}" for c, v in zip(t[:3], s[:3]))
            print(f"{mark:4}  {text[:70]:70}  -> {guesses}")
    print(json.dumps({"n": len(texts), **accuracy(top, labels)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
