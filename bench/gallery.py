"""The page's examples and a few of the report's hard cases, drawn into one captioned grid.

    python -m bench.gallery --biggan biggan-deep-128 --out gallery.png [--mapper REPO_OR_DIR] [--seed 0]

For whoever has BigGAN's real weights (a Space, a GPU box): one image per text, with the text and the
mapper's top-3 classes under it, the same seed for every text. With random weights the images are noise,
so only a grid made from real weights says anything about the results.
"""
from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from mapper.demo import EXAMPLES
from mapper.fallback import DEFAULT_MAPPER
from mapper.pipeline import DEFAULT_BLEND, DEFAULT_TRUNCATION, TextToImagePipeline

HARD_CASES = [  # docs/report.md, "Failure cases" and "Limits"
    "A dog chasing a ball on the beach",
    "Beside the sofa stood a tabby cat",
    "A dog chasing a cat",
    "The wedding party arrived in a long white limo.",
    "An astronaut floating above the earth.",
    "The mouse ran into a hole in the kitchen wall.",
]
CELL = 256  # pixels per image side; smaller images are scaled up
CAPTION_LINES = 5
LINE_HEIGHT = 15
FONT_SIZE = 12
WRAP = 38  # characters per caption line


def caption(text: str, classes: list[tuple[str, float]]) -> tuple[list[str], list[str]]:
    """The text, wrapped to at most two lines, and the readout under it: the top-3 classes with their
    probabilities, in the lines left."""
    lines = textwrap.wrap(f'"{text}"', WRAP)[:2]
    readout = textwrap.wrap(", ".join(f"{name} {p:.2f}" for name, p in classes[:3]), WRAP)
    return lines, readout[: CAPTION_LINES - len(lines)]


def render(pipeline: TextToImagePipeline, texts: list[str], seed: int, truncation: float, blend: float,
           columns: int) -> Image.Image:
    """One image per text, in a grid of `columns`, each with its caption underneath."""
    font = ImageFont.load_default(FONT_SIZE)
    height = CELL + CAPTION_LINES * LINE_HEIGHT + 8
    rows = -(-len(texts) // columns)
    grid = Image.new("RGB", (columns * CELL, rows * height), "white")
    draw = ImageDraw.Draw(grid)
    for i, text in enumerate(texts):
        out = pipeline(text, truncation, seed, 1, blend)
        x, y = (i % columns) * CELL, (i // columns) * height
        grid.paste(out.images[0].resize((CELL, CELL), Image.Resampling.NEAREST), (x, y))
        lines, readout = caption(text, out.classes)
        for n, line in enumerate(lines + readout):
            color = "black" if n < len(lines) else "dimgray"
            draw.text((x + 4, y + CELL + 4 + n * LINE_HEIGHT), line, fill=color, font=font)
    return grid


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--biggan", required=True, help="BigGAN name (biggan-deep-128) or folder")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--mapper", default=DEFAULT_MAPPER, help="Hub id or folder (default %(default)s)")
    parser.add_argument("--encoder", help="default: the one the mapper records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--truncation", type=float, default=DEFAULT_TRUNCATION)
    parser.add_argument("--blend", type=float, default=DEFAULT_BLEND)
    parser.add_argument("--columns", type=int, default=4)
    args = parser.parse_args(argv)
    pipeline = TextToImagePipeline.from_pretrained(args.mapper, args.biggan, args.encoder)
    grid = render(pipeline, [*EXAMPLES, *HARD_CASES], args.seed, args.truncation, args.blend, args.columns)
    grid.save(args.out)
    print(f"{args.out}: {len(EXAMPLES) + len(HARD_CASES)} texts, seed {args.seed}, BigGAN {args.biggan}")
    return args.out


if __name__ == "__main__":
    main()
