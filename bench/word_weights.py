"""Where the default mapper looks: its attention pooling's weight on each word of a few sentences.

    python -m bench.word_weights --mapper runs/default [--json OUT.json] [SENTENCE ...]

`windowed` pools the encoder's token states with softmax weights whose score for each token reads the five
tokens around it; this prints those weights summed over each word's word pieces ("tabby" may be one token,
"kayak" two), and the share left on [CLS] and [SEP], with the mapper's top class. bench.figures draws the
JSON as a heat map over the words.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import date
from pathlib import Path

import torch

from mapper.encoder import TextEncoder
from mapper.models import Mapper, WindowedAttentionPool, attend
from mapper.pipeline import class_names

SENTENCES = [
    "A dog chasing a ball on the beach",
    "Beside the sofa stood a tabby cat",
    "A dog playing with a ball",
    "There was a dog right near a kayak",
    "I grabbed a cold drink from the fridge",
    "The wedding party arrived in a long white limo",
]


@torch.inference_mode()
def token_weights(mapper: Mapper, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, seq) the pooling's weight on each token: its scores, caught on the way out of the score layer,
    put through the same masked softmax that pools the states (`attend` of the identity gives the weights)."""
    if not isinstance(mapper.pool, WindowedAttentionPool):
        raise ValueError(f"word weights are read from windowed's pooling; this mapper is {mapper.config.arch!r}")
    caught = []
    handle = mapper.pool.score.register_forward_hook(lambda _module, _args, out: caught.append(out.squeeze(-1)))
    try:
        mapper.features(hidden, mask)
    finally:
        handle.remove()
    seq = hidden.shape[1]
    return attend(caught[0], torch.eye(seq, device=hidden.device).expand(len(hidden), seq, seq), mask)


@torch.inference_mode()
def word_weights(encoder: TextEncoder, mapper: Mapper, texts: list[str]) -> list[dict]:
    """Per text: its words with their summed weights, the weight on special tokens, and the top class."""
    encoded = encoder.encode(texts)
    weights = token_weights(mapper, encoded.hidden_states, encoded.attention_mask)
    top = mapper.class_probabilities(encoded.hidden_states, encoded.attention_mask).max(-1)
    names = class_names()
    out = []
    for i, text in enumerate(texts):
        batch = encoder.tokenizer(text, truncation=True, max_length=encoder.max_length)
        words: dict[int, float] = {}
        for position, word in enumerate(batch.word_ids()):
            if word is not None:
                words[word] = words.get(word, 0.0) + float(weights[i, position])
        spans = [batch.word_to_chars(word) for word in words]
        out.append({
            "text": text,
            "words": [[text[span.start : span.end], round(w, 4)] for span, w in zip(spans, words.values())],
            "special_tokens": round(1.0 - sum(words.values()), 4),
            "top_class": names[int(top.indices[i])], "top_probability": round(float(top.values[i]), 4),
        })
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sentences", nargs="*", default=SENTENCES, help="default: a few scenes and hard cases")
    parser.add_argument("--mapper", type=Path, required=True, help="a trained windowed mapper folder")
    parser.add_argument("--json", type=Path, help="also write the weights, and the command, to this file")
    args = parser.parse_args(argv)
    mapper = Mapper.from_pretrained(args.mapper)
    encoder = TextEncoder.from_pretrained(mapper.config.encoder)
    mapper.check_compatible(encoder.fingerprint, mapper.class_embeddings)
    rows = word_weights(encoder, mapper, args.sentences)
    for row in rows:
        words = "  ".join(f"{w} {v:.2f}" for w, v in row["words"])
        print(f"{words}  [CLS/SEP {row['special_tokens']:.2f}]  -> {row['top_class']} {row['top_probability']:.2f}")
    if args.json:
        command = shlex.join(["python", "-m", "bench.word_weights", *(sys.argv[1:] if argv is None else argv)])
        report = {"command": command, "date": date.today().isoformat(), "mapper": mapper.config.arch, "sentences": rows}
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
