"""Would a bfloat16 encoder pay? Its time per sentence against float32's, and what it changes downstream.

    python -m bench.encoder_precision --mapper runs/default --dataset data/full [--eval FILE.jsonl] [--sentences 3000]

Both encoders have their linear layers packed for oneDNN (as the product's is), run on one thread (as the
pipeline's does) and are timed alternately, one sentence per call, so load on the machine hits both alike.
Downstream: the mapper's top-1 class (nearest class of its output vector) on a sample of the dataset's
sentences plus the eval file's, float32 states against bfloat16 ones, and the largest probability change.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import torch
from transformers import AutoModel

from mapper.encoder import TextEncoder, pack_linears
from mapper.evaluate import read_jsonl
from mapper.models import Mapper, top_classes


def seconds(model: torch.nn.Module, batch) -> float:
    start = time.perf_counter()
    model(**batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mapper", required=True, help="mapper folder")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder (its sentences.jsonl)")
    parser.add_argument("--eval", type=Path, default=Path("../shared/eval/dev_natural.jsonl"))
    parser.add_argument("--sentences", type=int, default=3000, help="dataset sentences to compare readouts on")
    parser.add_argument("--rounds", type=int, default=10, help="timed calls per eval sentence and precision")
    args = parser.parse_args()

    torch.set_num_threads(1)
    mapper = Mapper.from_pretrained(args.mapper)
    encoder = TextEncoder.from_pretrained(mapper.config.encoder)
    bf16 = pack_linears(AutoModel.from_pretrained(mapper.config.encoder).eval(), torch.bfloat16)
    eval_texts, _ = read_jsonl(args.eval)

    times: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    with torch.inference_mode():
        batches = [encoder.tokenizer([t], return_tensors="pt") for t in eval_texts]
        for round_ in range(args.rounds + 2):  # two rounds of warm-up
            for batch in batches:
                for name, model in (("float32", encoder.model), ("bfloat16", bf16)):
                    elapsed = seconds(model, batch)
                    if round_ >= 2:
                        times[name].append(elapsed)
    for name, values in times.items():
        print(f"{name:9} median {statistics.median(values) * 1e3:6.2f} ms per sentence ({len(values)} calls)")

    texts = [json.loads(line)["text"] for line in (args.dataset / "sentences.jsonl").open()]
    texts = random.Random(0).sample(texts, min(args.sentences, len(texts))) + eval_texts
    changed, largest = 0, 0.0
    with torch.inference_mode():
        for i in range(0, len(texts), 64):
            batch = encoder.tokenizer(texts[i : i + 64], return_tensors="pt", padding=True)
            mask = batch["attention_mask"]
            probs = [mapper.class_probabilities(model(**batch).last_hidden_state, mask) for model in (encoder.model, bf16)]
            top = [top_classes(p @ mapper.class_embeddings, mapper.class_embeddings, k=1)[1] for p in probs]
            changed += int((top[0] != top[1]).sum())
            largest = max(largest, float((probs[0] - probs[1]).abs().max()))
    print(f"top-1 class changed on {changed} of {len(texts)} sentences; largest probability change {largest:.3f}")


if __name__ == "__main__":
    main()
