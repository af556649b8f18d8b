"""One running app, one trained mapper, two BigGAN-deep resolutions, full configs: what the tests check with tiny
BigGANs, at full size.

    python -m bench.serve_resolutions [--mapper DIR] [--encoder DIR] [--workdir DIR]

Starts `python app.py` as a Space would, with BIGGAN set to biggan-deep-128 then biggan-deep-256 (full configs,
random weights, written once into the work folder) and one classifier mapper (the one given, else bench.latency's
50-class one), then calls /generate through gradio_client: with the default resolution, with resolution=256 (that
call loads it), and both again. Prints each call's image size and seconds; exits 1 when an image is not the size
asked for.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from gradio_client import Client
from PIL import Image

from bench.latency import BENCH_CLASSES, add_model_arguments, biggan_folder, start_server, wait_until_up
from mapper.encoder import TextEncoder
from mapper.fallback import Recipe, fallback_mapper
from mapper.gan import Generator

CALLS = ((None, 128), (256, 256), (None, 128), (256, 256))  # (resolution passed, image size expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    args = parser.parse_args(argv)
    folders = [biggan_folder(args.workdir, args.class_embeddings, size) for size in (128, 256)]
    mapper = args.mapper
    if not mapper:
        encoder = TextEncoder.from_pretrained(args.encoder)
        _, mapper = fallback_mapper(encoder, Generator.from_pretrained(folders[0]), Recipe(classes=BENCH_CLASSES),
                                    args.workdir)
    wrong = 0
    with tempfile.TemporaryDirectory(prefix="text2biggan-serve-") as scratch_dir:
        scratch = Path(scratch_dir)
        proc, url = start_server(",".join(map(str, folders)), mapper, args.encoder, scratch)
        try:
            wait_until_up(proc, url, scratch / "app.log")
            client = Client(url, verbose=False, download_files=str(scratch / "downloads"))
            print(f"app up with BIGGAN={','.join(f.name for f in folders)}, mapper {mapper}")
            for i, (resolution, expected) in enumerate(CALLS):
                settings = {} if resolution is None else {"resolution": resolution}
                start = time.perf_counter()
                images, classes, _ = client.predict(f"a tabby cat ({i})", seed=i, **settings, api_name="/generate")
                seconds = time.perf_counter() - start
                size = Image.open(images[0]["image"]).size
                wrong += size != (expected, expected)
                print(f"/generate resolution={resolution or 'default'}: {size[0]} x {size[1]} PNG "
                      f"(expected {expected}), {seconds:.2f} s, top class {classes['label']}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print("every image the size asked for" if not wrong else f"{wrong} images of the wrong size")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
