"""Where the default mapper looks: its pooling's weight on each word of a few sentences, and what it read.

    python -m bench.word_weights --mapper runs/default [--json OUT.json] [SENTENCE ...]

The weights are the app's /read endpoint's (`python -m mapper.read` prints the same): the pooling's softmax
over the tokens, summed over each word's word pieces and renormalised over the words. `windowed` scores each
token by the five tokens around it, so the weight can fall on the subject wherever it stands. bench.figures
draws the JSON as a heat map over the words.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import date
from pathlib import Path

from mapper.encoder import TextEncoder
from mapper.models import Mapper
from mapper.pipeline import read_text

SENTENCES = [
    "A dog chasing a ball on the beach",
    "Beside the sofa stood a tabby cat",
    "A dog playing with a ball",
    "There was a dog right near a kayak",
    "I grabbed a cold drink from the fridge",
    "The wedding party arrived in a long white limo",
]


def word_weights(encoder: TextEncoder, mapper: Mapper, texts: list[str]) -> list[dict]:
    """Per text: its words with their weights, the top class, and the group of a spread readout, as /read gives them."""
    rows = []
    for text in texts:
        reading = read_text(encoder, mapper, text)[1].to_json()
        _, name, probability = reading["classes"][0]
        rows.append({"text": text, "words": reading["words"], "top_class": name, "top_probability": probability,
                     "group": reading["group"]})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sentences", nargs="*", default=SENTENCES, help="default: a few scenes and hard cases")
    parser.add_argument("--mapper", type=Path, required=True, help="a trained mapper folder")
    parser.add_argument("--json", type=Path, help="also write the weights, and the command, to this file")
    args = parser.parse_args(argv)
    mapper = Mapper.from_pretrained(args.mapper)
    encoder = TextEncoder.from_pretrained(mapper.config.encoder)
    mapper.check_compatible(encoder.fingerprint, mapper.class_embeddings)
    rows = word_weights(encoder, mapper, args.sentences)
    for row in rows:
        words = "  ".join(f"{w} {v:.2f}" for w, v in row["words"])
        group = f" (group {row['group']['name']} {row['group']['p']:.2f})" if row["group"] else ""
        print(f"{words}  -> {row['top_class']} {row['top_probability']:.2f}{group}")
    if args.json:
        command = shlex.join(["python", "-m", "bench.word_weights", *(sys.argv[1:] if argv is None else argv)])
        report = {"command": command, "date": date.today().isoformat(), "mapper": mapper.config.arch, "sentences": rows}
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
