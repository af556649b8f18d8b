"""Build the mapper's training data: WordNet sentences for all 1000 ImageNet classes, encoded (X),
paired with BigGAN's class embeddings (Z). See mapper/dataset.py for the folder layout. The sentences and their
targets are also written as a Hugging Face dataset in OUT/hf_dataset (mapper/hub_dataset.py), and with
--push-to-hub uploaded to the Hub, so a mapper for any encoder can be trained from them."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from mapper import inputs
from mapper.dataset import build_dataset
from mapper.encoder import TextEncoder
from mapper.sentences import generate_sentences


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write (replaced if it exists)")
    inputs.add_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed for template sampling and splits")
    parser.add_argument("--classes", type=int, nargs="*", help="only these class indices (for quick builds)")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the sentences to this Hub dataset repo")
    parser.add_argument("--private", action="store_true", help="create the Hub dataset repo as private")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("build_dataset")
    start = time.perf_counter()
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)  # fails early on an unwritable place
        from mapper import hub_dataset  # `datasets`, which the app does without: missing, fail before any work

        z, gan = inputs.class_embeddings(args)
        encoder = TextEncoder.from_pretrained(args.encoder)
        sentences = generate_sentences(args.seed, args.classes)
        log.info("generated %d sentences", len(sentences))
        build_dataset(args.out, encoder, z, gan, sentences, args.seed)
        published = hub_dataset.save_hf_dataset(args.out / hub_dataset.FOLDER, sentences, args.seed, args.classes)
        if args.push_to_hub:
            log.info("pushed: %s", hub_dataset.push_hf_dataset(published, args.push_to_hub, args.private))
    except (ImportError, OSError, ValueError, RuntimeError) as err:
        print(f"build_dataset: error: {err}", file=sys.stderr)
        return 1
    log.info("wrote %s in %.0f s", args.out, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
