"""Build the mapper's training data: WordNet sentences for all 1000 ImageNet classes, encoded (X),
paired with BigGAN's class embeddings (Z). See mapper/dataset.py for the folder layout."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from mapper.dataset import build_dataset, load_class_embeddings
from mapper.encoder import DEFAULT_ENCODER, TextEncoder
from mapper.gan import DEFAULT_BIGGAN, Generator
from mapper.sentences import generate_sentences


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write (replaced if it exists)")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, help="transformers encoder: Hub id or local folder")
    z = parser.add_mutually_exclusive_group()
    z.add_argument("--biggan", default=DEFAULT_BIGGAN, help="BigGAN name (biggan-deep-128/256/512) or folder")
    z.add_argument("--class-embeddings", type=Path, help="a (1000, 128) .npy matrix to use instead of a BigGAN")
    parser.add_argument("--seed", type=int, default=0, help="seed for template sampling and splits")
    parser.add_argument("--classes", type=int, nargs="*", help="only these class indices (for quick builds)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("build_dataset")
    start = time.perf_counter()
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)  # fails early on an unwritable place
        if args.class_embeddings:
            z, gan = load_class_embeddings(args.class_embeddings), str(args.class_embeddings)
        else:
            z, gan = Generator.from_pretrained(args.biggan).class_embeddings, args.biggan
        encoder = TextEncoder.from_pretrained(args.encoder)
        sentences = generate_sentences(args.seed, args.classes)
        log.info("generated %d sentences", len(sentences))
        build_dataset(args.out, encoder, z, gan, sentences, args.seed)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"build_dataset: error: {err}", file=sys.stderr)
        return 1
    log.info("wrote %s in %.0f s", args.out, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
