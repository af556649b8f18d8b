"""The BigGAN-deep generators one pipeline draws with, by image size: the first (the default) loaded at once,
the others on first use, then kept.

A classifier mapper reads the 1000 ImageNet classes, which biggan-deep-128, -256 and -512 share, so one
mapper serves them all; loading a generator takes seconds and a few hundred MB (see the README's costs),
which a visitor who never asks for that size should not pay for at start-up.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from mapper.gan import Generator, biggan_image_size

Loader = Callable[[str], Generator]
# The app's BigGANs where none are named, the default first: on a GPU the largest, which takes milliseconds
# there; on a CPU the largest answering one image in under about 0.6 s, 256 (0.59-0.60 s on one core; 512 takes
# 1.0-1.2 s: README, "Resolutions"), then 128 for speed. The others load only if asked for.
DEFAULT_BIGGANS = {
    "cuda": "biggan-deep-512,biggan-deep-256,biggan-deep-128",
    "cpu": "biggan-deep-256,biggan-deep-128,biggan-deep-512",
}


def biggan_names(value: str | Sequence[str]) -> list[str]:
    """BigGAN names or folders, as a list or joined by commas (as app.py's --biggan takes them)."""
    names = [name.strip() for name in (value.split(",") if isinstance(value, str) else value)]
    if not names or not all(names):
        raise ValueError(f"BigGANs must be names or folders separated by commas, got {value!r}")
    return names


class BigGANs:
    def __init__(self, default: Generator, others: Sequence[str | Path] = (), loader: Loader | None = None):
        """`others`: names or folders (mapper.gan.resolve_biggan), read now only for their image size;
        `loader` makes a Generator of one (default: Generator.from_pretrained on the default's device)."""
        self.default = default
        self.names = {default.image_size: default.name_or_path}
        for name in others:
            size = biggan_image_size(name)
            if size in self.names:
                raise ValueError(f"BigGANs {self.names[size]} and {name} both draw {size} x {size} images; give one")
            self.names[size] = str(name)
        self.loader = loader or (lambda name: Generator.from_pretrained(name, str(default.device)))
        self.loaded = {default.image_size: default}
        self.lock = threading.Lock()  # two first requests for one size load it once

    @property
    def sizes(self) -> list[int]:
        """The image sizes on offer, smallest first."""
        return sorted(self.names)

    def is_loaded(self, size: int) -> bool:
        return size in self.loaded

    def get(self, size: int, check: Callable[[Generator], None] = lambda generator: None) -> Generator:
        """The generator for `size` x `size` images, loaded now if it was not, `check`ed once as it is loaded
        (a ValueError from it leaves the generator unloaded); ValueError for a size not on offer."""
        if size not in self.names:
            raise ValueError(f"no BigGAN draws {size} x {size} images here: {', '.join(map(str, self.sizes))} only")
        with self.lock:
            if size not in self.loaded:
                generator = self.loader(self.names[size])
                check(generator)
                self.loaded[size] = generator
            return self.loaded[size]

