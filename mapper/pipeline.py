"""TextToImagePipeline: text -> encoder hidden states -> mapper -> class vector + noise -> BigGAN -> images.

Every input is checked before any model runs, with a message that names it: the demo shows these
messages to people as they are.
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from numbers import Real

import torch
from PIL import Image

from mapper.biggans import BigGANs, biggan_names
from mapper.device import cpu_threads, default_device
from mapper.encoder import TextEncoder
from mapper.gan import MAX_SEED, Generator, to_pil
from mapper.models import OUTSIDE_THRESHOLD, Mapper, blend
from mapper.reading import Reading, class_names, read
from mapper.text import normalize_text

MAX_TEXT_CHARS = 1000
MAX_IMAGES = 4
DEFAULT_TRUNCATION = 0.4
DEFAULT_BLEND = 0.5
# With a class per image, classes holding less of the reading than this are not drawn: the mapper's tail
# (a thousandth each on hundreds of classes) is noise, not a meaning of the text.
MIN_CLASS_SHARE = 0.02
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
    captions: list[str]  # per image, the class it was drawn from (the top class when the classes are mixed)


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


class TextToImagePipeline:
    def __init__(
        self,
        encoder: TextEncoder,
        mapper: Mapper,
        generator: Generator | BigGANs,
        text_cache_size: int = TEXT_CACHE_SIZE,
    ):
        """`generator`: one BigGAN, or several by image size (mapper.biggans), the first the default."""
        self.biggans = generator if isinstance(generator, BigGANs) else BigGANs(generator)
        self.check_generator = lambda candidate: mapper.check_compatible(encoder.fingerprint, candidate.class_embeddings)
        self.check_generator(self.generator)
        self.encoder = encoder
        self.mapper = mapper.eval().to(self.generator.device)
        # Bounded and thread-safe; the tensors it returns are shared, so nothing may change them in place
        # (inference tensors refuse it outside inference mode).
        self.remembered = lru_cache(maxsize=text_cache_size)(self.compute_reading)

    @classmethod
    def from_pretrained(
        cls,
        mapper: str,
        biggan: str | Sequence[str] | None = None,
        encoder: str | None = None,
        device: str | None = None,
    ) -> TextToImagePipeline:
        """Each part by Hub id or folder; the encoder and BigGAN default to those the mapper records. Several
        BigGANs (a list, or names joined by commas) serve several resolutions; the first is the default."""
        loaded = Mapper.from_pretrained(mapper)
        device = device or default_device()
        first, *others = biggan_names(biggan or loaded.config.gan)
        return cls(
            TextEncoder.from_pretrained(encoder or loaded.config.encoder, device),
            loaded,
            BigGANs(Generator.from_pretrained(first, device), others),
        )

    @property
    def generator(self) -> Generator:
        """The default BigGAN: the one drawing when no resolution is asked for."""
        return self.biggans.default

    def generator_for(self, resolution: int | None) -> Generator:
        """The BigGAN drawing `resolution` x `resolution` images (None: the default), loaded now on first use."""
        if resolution is None:
            return self.generator
        return self.biggans.get(check_resolution(resolution, self.biggans.sizes), self.check_generator)

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
        per_image_classes: bool = False,
        resolution: int | None = None,
    ) -> PipelineOutput:
        """`num_images` images of `text` in one batch; seed None draws a fresh seed, reported in the output.

        Mixing (the default here), every image draws the class vector `blend_amount` makes of the mapper's
        distribution. `per_image_classes`, each image draws one class of that distribution (draw_classes) and
        gets that class's own vector, `blend_amount` unused; the seed fixes the classes as it fixes the noise.
        `resolution`: the image size, one of `self.biggans.sizes`.
        """
        text = check_text(text)
        num_images = check_settings(truncation, seed, num_images, blend_amount)
        if not isinstance(per_image_classes, bool):
            raise ValueError(f"per_image_classes must be true or false, got {describe(per_image_classes)}")
        if resolution is not None:
            check_resolution(resolution, self.biggans.sizes)
        seed = random_seed() if seed is None else int(seed)
        probs, reading = self.remembered(text)
        generator = self.generator_for(resolution)
        z = generator.class_embeddings
        if per_image_classes:
            drawn = draw_classes(probs, num_images, seed)
            vectors = z[drawn.to(z.device)]
        else:
            drawn = torch.full((num_images,), reading.classes[0][0])
            vectors = blend(probs[None].to(z.device), z, blend_amount).expand(num_images, -1)
        images = generator.generate(vectors, truncation, seed)
        classes = [(name, p) for _, name, p in reading.classes]
        return PipelineOutput(to_pil(images), classes, seed, reading, [class_names()[i] for i in drawn.tolist()])


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


def draw_classes(probs: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """(count,) classes drawn from `probs` (1000,) among those holding at least MIN_CLASS_SHARE (the top class
    always), each in proportion to its probability and none twice until every one has been drawn: four images
    of a word covering four breeds show four breeds, never a class the reading all but rules out. Seeded."""
    candidates = (probs >= MIN_CLASS_SHARE).nonzero().flatten()
    if not len(candidates):
        candidates = probs.argmax()[None]
    weights, rng = probs[candidates].double(), torch.Generator().manual_seed(seed)
    drawn = torch.multinomial(weights, min(count, len(candidates)), replacement=False, generator=rng)
    if count > len(candidates):
        drawn = torch.cat([drawn, torch.multinomial(weights, count - len(candidates), replacement=True, generator=rng)])
    return candidates[drawn]


def check_resolution(resolution: int, sizes: list[int]) -> int:
    if not is_whole(resolution) or int(resolution) not in sizes:
        raise ValueError(f"resolution must be one of {', '.join(map(str, sizes))}, got {describe(resolution)}")
    return int(resolution)


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
