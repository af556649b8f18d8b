"""TextToImagePipeline: text -> encoder hidden states -> mapper -> class vector + noise -> BigGAN -> images.

Every input is checked before any model runs, with a message that names it: the demo shows these
messages to people as they are.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache
from numbers import Real

import torch
from PIL import Image

from mapper.device import cpu_threads, default_device
from mapper.encoder import TextEncoder
from mapper.gan import MAX_SEED, Generator, to_pil
from mapper.models import OUTSIDE_THRESHOLD, Mapper, blend
from mapper.reading import Reading, read
from mapper.text import normalize_text

MAX_TEXT_CHARS = 1000
MAX_IMAGES = 4
DEFAULT_TRUNCATION = 0.4
DEFAULT_BLEND = 0.5
# Readings of the last texts seen, 4 KB each: people click the examples and redraw the same text with new
# seeds, and then the encoder and mapper need not run again.
TEXT_CACHE_SIZE = 256
# The encoder's matrices are a few dozen rows each: a second thread gains little on them and loses much when
# it has to wait for a core (in the app, the server's own threads want one at the start of every request).
ENCODER_THREADS = 1


@dataclass
class PipelineOutput:
    images: list[Image.Image]
    classes: list[tuple[str, float]]  # the mapper's top-5 ImageNet classes with their probabilities
    seed: int  # the seed used: pass it again to get the same images
    reading: Reading  # the same classes, the group, the words weighed and whether ImageNet has the thing


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


class TextToImagePipeline:
    def __init__(
        self, encoder: TextEncoder, mapper: Mapper, generator: Generator, text_cache_size: int = TEXT_CACHE_SIZE
    ):
        mapper.check_compatible(encoder.fingerprint, generator.class_embeddings)
        self.encoder = encoder
        self.mapper = mapper.eval().to(generator.device)
        self.generator = generator
        # Bounded and thread-safe; the tensors it returns are shared, so nothing may change them in place
        # (inference tensors refuse it outside inference mode).
        self.remembered = lru_cache(maxsize=text_cache_size)(self.compute_reading)

    @classmethod
    def from_pretrained(
        cls, mapper: str, biggan: str | None = None, encoder: str | None = None, device: str | None = None
    ) -> TextToImagePipeline:
        """Each part by Hub id or folder; the encoder and BigGAN default to those the mapper records."""
        loaded = Mapper.from_pretrained(mapper)
        device = device or default_device()
        return cls(
            TextEncoder.from_pretrained(encoder or loaded.config.encoder, device),
            loaded,
            Generator.from_pretrained(biggan or loaded.config.gan, device),
        )

    def class_distribution(self, text: str) -> torch.Tensor:
        """(1000,) the mapper's probabilities over ImageNet classes for `text`, on the CPU; the same tensor
        again for a text among the last `text_cache_size` seen. Kept on the CPU, the cache holds no GPU memory
        and nothing tied to one GPU session (ZeroGPU attaches a GPU per request)."""
        return self.remembered(check_text(text))[0]

    def read(self, text: str) -> Reading:
        """What the mapper reads in `text`: top classes, group, word weights, outside ImageNet or not."""
        return self.remembered(check_text(text))[1]

    def compute_reading(self, text: str) -> tuple[torch.Tensor, Reading]:
        return read_text(self.encoder, self.mapper, text)

    @torch.inference_mode()
    def __call__(
        self,
        text: str,
        truncation: float = DEFAULT_TRUNCATION,
        seed: int | None = 0,
        num_images: int = 1,
        blend_amount: float = DEFAULT_BLEND,
    ) -> PipelineOutput:
        """`num_images` images of `text` in one batch; seed None draws a fresh seed, reported in the output."""
        text = check_text(text)
        num_images = check_settings(truncation, seed, num_images, blend_amount)
        seed = random_seed() if seed is None else int(seed)
        probs, reading = self.remembered(text)
        vector = blend(probs[None].to(self.generator.device), self.mapper.class_embeddings, blend_amount)
        images = self.generator.generate(vector.expand(num_images, -1), truncation, seed)
        classes = [(name, p) for _, name, p in reading.classes]
        return PipelineOutput(to_pil(images), classes, seed, reading)


@torch.inference_mode()
def read_text(encoder: TextEncoder, mapper: Mapper, text: str) -> tuple[torch.Tensor, Reading]:
    """(1000,) the mapper's probabilities for `text`, on the CPU, and the reading made of them; `text` as
    check_text gives it. What the app, `python -m mapper.read` and bench.word_weights read."""
    with cpu_threads(ENCODER_THREADS):
        encoded = encoder.encode([text])
    device = mapper.class_embeddings.device
    out = mapper.read(encoded.hidden_states.to(device), encoded.attention_mask.to(device))
    probs = out.probs[0].cpu()
    spans = encoder.word_spans(text)
    return probs, read(text, probs, float(out.outside[0]), spans, out.token_weights[0].cpu(), OUTSIDE_THRESHOLD)


def check_text(text: str) -> str:
    """The text as the encoder will read it (mapper.text), refused when over-long or, once normalised, empty."""
    if text is None:
        raise ValueError("please type some text")
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {describe(text)}")
    if len(text) > MAX_TEXT_CHARS:  # before normalising, which so never runs over a huge payload
        raise ValueError(f"text is {len(text):,} characters; keep it under {MAX_TEXT_CHARS:,}")
    if not (text := normalize_text(text)):
        raise ValueError("please type some text")
    return text


def check_settings(truncation: float, seed: int | None, num_images: int, blend_amount: float) -> int:
    """Refuse values out of range (or not numbers at all, as a web client may send); returns the image
    count as an int, since sliders send whole numbers as floats."""
    if not is_number(truncation) or not 0 < truncation <= 1:
        raise ValueError(f"truncation must be a number in (0, 1], got {describe(truncation)}")
    if seed is not None and (not is_whole(seed) or not 0 <= seed <= MAX_SEED):
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED:,}, got {describe(seed)}")
    if not is_whole(num_images) or not 1 <= num_images <= MAX_IMAGES:
        raise ValueError(f"number of images must be a whole number from 1 to {MAX_IMAGES}, got {describe(num_images)}")
    if not is_number(blend_amount) or not 0 <= blend_amount <= 1:
        raise ValueError(f"blend must be a number in [0, 1], got {describe(blend_amount)}")
    return int(num_images)


def is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def is_whole(value: object) -> bool:
    return is_number(value) and float(value).is_integer()


def describe(value: object) -> str:
    """The value itself when it is a number; otherwise only its type, so user text is never echoed."""
    return str(value) if is_number(value) else f"a {type(value).__name__}"
