"""TextToImagePipeline: text -> encoder hidden states -> mapper -> class vector + noise -> BigGAN -> images."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from mapper.classes import imagenet_classes
from mapper.encoder import TextEncoder
from mapper.gan import MAX_SEED, Generator, to_pil
from mapper.models import Mapper, blend

MAX_TEXT_CHARS = 1000
MAX_IMAGES = 4


@dataclass
class PipelineOutput:
    images: list[Image.Image]
    classes: list[tuple[str, float]]  # the mapper's top-5 ImageNet classes with their probabilities
    seed: int


class TextToImagePipeline:
    def __init__(self, encoder: TextEncoder, mapper: Mapper, generator: Generator):
        mapper.check_compatible(encoder.fingerprint, generator.class_embeddings)
        self.encoder = encoder
        self.mapper = mapper.eval().to(generator.device)
        self.generator = generator
        self.class_names = [c.name for c in imagenet_classes()]

    @classmethod
    def from_pretrained(
        cls, mapper: str, biggan: str | None = None, encoder: str | None = None
    ) -> "TextToImagePipeline":
        """Each part by Hub id or folder; the encoder and BigGAN default to those the mapper records."""
        loaded = Mapper.from_pretrained(mapper)
        return cls(
            TextEncoder.from_pretrained(encoder or loaded.config.encoder),
            loaded,
            Generator.from_pretrained(biggan or loaded.config.gan),
        )

    @torch.inference_mode()
    def class_distribution(self, text: str) -> torch.Tensor:
        """(1000,) the mapper's probabilities over ImageNet classes for `text`."""
        check_text(text)
        encoded = self.encoder.encode([text])
        hidden = encoded.hidden_states.to(self.generator.device)
        return self.mapper.class_logits(hidden, encoded.attention_mask.to(hidden.device)).softmax(-1)[0]

    def __call__(
        self, text: str, truncation: float = 0.4, seed: int = 0, num_images: int = 1, blend_amount: float = 0.5
    ) -> PipelineOutput:
        if not 1 <= num_images <= MAX_IMAGES:
            raise ValueError(f"number of images must be 1 to {MAX_IMAGES}, got {num_images}")
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
        probs = self.class_distribution(text)
        vector = blend(probs[None], self.mapper.class_embeddings, blend_amount)
        images = self.generator.generate(vector.expand(num_images, -1), truncation, seed)
        top = probs.topk(5)
        classes = [(self.class_names[i], float(p)) for p, i in zip(top.values, top.indices)]
        return PipelineOutput(to_pil(images), classes, seed)


def check_text(text: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("please type some text")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text is {len(text):,} characters; keep it under {MAX_TEXT_CHARS:,}")
