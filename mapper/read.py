"""Print what a mapper reads in texts, one JSON object per line:

    python -m mapper.read MAPPER [--encoder ID_OR_DIR] [TEXT ...]

Texts come from the arguments, else one per line on stdin. Each line is exactly {"text": str, "classes":
[[index, name, p], ... top 5], "group": {"name": str, "p": float} or null, "words": [[word, weight], ...],
"outside": bool}, as the app's /read endpoint gives it. No BigGAN is loaded.
"""
from __future__ import annotations

import argparse
import json
import sys

from mapper.encoder import TextEncoder
from mapper.models import Mapper
from mapper.pipeline import check_text, read_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mapper.read", description=__doc__.split("\n")[0])
    parser.add_argument("mapper", help="mapper folder or Hub repo id")
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to read (default: one per line on stdin)")
    parser.add_argument("--encoder", help="encoder Hub id or folder (default: the one the mapper records)")
    args = parser.parse_intermixed_args(argv)  # texts may come before or after --encoder
    try:
        mapper = Mapper.from_pretrained(args.mapper)
        encoder = TextEncoder.from_pretrained(args.encoder or mapper.config.encoder)
        mapper.check_compatible(encoder.fingerprint, mapper.class_embeddings)
    except (OSError, ValueError) as err:
        print(f"read: error: {err}", file=sys.stderr)
        return 1
    texts = args.texts or (line.rstrip("\n") for line in sys.stdin)
    status = 0
    for text in texts:
        try:
            text = check_text(text)  # read as the app reads it: normalised
        except ValueError as err:
            print(f"read: {text[:40]!r}: {err}", file=sys.stderr)
            status = 1
            continue
        print(json.dumps(read_text(encoder, mapper, text)[1].to_json(), ensure_ascii=False), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
