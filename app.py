"""text2biggan: type a sentence, BigGAN-deep draws it (the Hugging Face Space).

Wiring only: configuration -> one pipeline, loaded once and shared by every request -> Gradio page + API.
Each flag defaults to the environment variable named in its help. Hub repos load at the revisions pinned in
revisions.json (a --*-revision flag or *_REVISION variable overrides its part's). When the mapper cannot be downloaded,
the app trains the default one locally once, caches it ($TEXT2BIGGAN_HOME, else $XDG_CACHE_HOME/text2biggan,
else ~/.cache/text2biggan) and serves with it.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from mapper.biggans import DEFAULT_BIGGANS
from mapper.demo import build_demo, launch
from mapper.device import default_device
from mapper.fallback import MAPPER_FOR_ENCODER, load_pipeline
from mapper.revisions import PARTS, Revisions, read_pins


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--mapper", default=env("MAPPER"), help="Hub id or folder (env MAPPER; default: the one published for the "
        f"encoder, {' or '.join(MAPPER_FOR_ENCODER.values())})")
    add("--biggan", default=env("BIGGAN", DEFAULT_BIGGANS[default_device()]),
        help="one or more names or folders, comma-separated, one per resolution; the first is the default and loads "
        "at start, the others on first use (env BIGGAN; default here %(default)s)")
    add("--encoder", default=env("ENCODER"), help="Hub id or folder (env ENCODER; default: the one the mapper records; "
        "with no mapper named, all-MiniLM-L6-v2 on a CPU, all-mpnet-base-v2 on a GPU)")
    for part in PARTS:
        variable = f"{part.upper()}_REVISION"
        add(f"--{part}-revision", default=env(variable), help=f"branch, tag or commit of the {part}'s Hub repo "
            f"(env {variable}; default: the repo's pin in revisions.json, else main)")
    add("--host", default=env("GRADIO_SERVER_NAME", "0.0.0.0"), help="env GRADIO_SERVER_NAME; default %(default)s")
    add("--port", default=env("GRADIO_SERVER_PORT", "7860"), type=int, help="env GRADIO_SERVER_PORT; default %(default)s")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("mapper").setLevel(logging.INFO)  # loading and fallback progress, not every HTTP call
    try:
        revisions = Revisions(read_pins(), args.mapper_revision, args.encoder_revision, args.biggan_revision)
        loaded = load_pipeline(args.mapper, args.biggan, args.encoder, revisions=revisions)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"app: error: {err}", file=sys.stderr)
        return 1
    launch(build_demo(loaded), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
