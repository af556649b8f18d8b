"""Morphs: an animation from one text's image to another's, walking BigGAN's class space between them.

Frame t of n (t = 0 .. n-1, s = t / (n - 1)) draws the class vector (1 - s) v_a + s v_b, each v the one
/generate draws for its text (the default blend), with noise moving from the first seed's to the second's on
the great circle between them (spherical interpolation keeps the noise's norm, which a straight line would
shrink mid-way, and so BigGAN's truncation). Its first and last frames are so the two texts' images at the
same settings. Frames go through BigGAN in batches; the animation is an animated WebP, which browsers play in
an <img> and PIL writes without any other tool.
"""
from __future__ import annotations

import io
from collections.abc import Callable

import torch
from PIL import Image

from mapper.gan import snap_truncation, to_pil
from mapper.models import blend
from mapper.pipeline import (
    DEFAULT_BLEND,
    DEFAULT_TRUNCATION,
    TextToImagePipeline,
    check_resolution,
    check_settings,
    check_text,
    describe,
    is_whole,
    random_seed,
)

DEFAULT_FRAMES = 24
MAX_FRAMES = 60
FRAME_MS = 80  # 12.5 frames a second: the default morph lasts about two seconds
# Frames per BigGAN forward: enough to amortise the per-call overhead, few enough that a 512 x 512 batch's
# activations stay within a few hundred MB and progress moves often.
FRAME_BATCH = 8

Progress = Callable[[float, str], None]  # (share done, what is being done)


def check_frames(frames: int) -> int:
    if not is_whole(frames) or not 2 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames must be a whole number from 2 to {MAX_FRAMES}, got {describe(frames)}")
    return int(frames)


def slerp(a: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """(n, d) points on the great circle from `a` to `b` (d,) at shares `s` (n,), the norm moving linearly;
    a straight line where the two are (nearly) parallel, as for one seed."""
    cosine = torch.dot(a, b) / (a.norm() * b.norm())
    angle = torch.arccos(cosine.clamp(-1, 1))
    s = s[:, None]
    if angle < 1e-4:
        return torch.lerp(a, b, s)
    directions = (torch.sin((1 - s) * angle) * a / a.norm() + torch.sin(s * angle) * b / b.norm()) / torch.sin(angle)
    return directions * torch.lerp(a.norm(), b.norm(), s)


@torch.inference_mode()
def morph_frames(
    pipeline: TextToImagePipeline,
    text_a: str,
    text_b: str,
    frames: int = DEFAULT_FRAMES,
    truncation: float = DEFAULT_TRUNCATION,
    seed: int | None = 0,
    seed_b: int | None = None,
    resolution: int | None = None,
    progress: Progress = lambda share, what: None,
) -> tuple[list[Image.Image], int, int]:
    """The frames from `text_a`'s image (seed `seed`, None: drawn) to `text_b`'s (seed `seed_b`, None: the
    same noise throughout), and the two seeds used. Every input is checked before any model runs, with the
    messages /generate gives."""
    text_a, text_b = check_text(text_a), check_text(text_b)
    frames = check_frames(frames)
    check_settings(truncation, seed, 1, DEFAULT_BLEND)
    check_settings(truncation, seed_b, 1, DEFAULT_BLEND)
    if resolution is not None:
        check_resolution(resolution, pipeline.biggans.sizes)
    seed = random_seed() if seed is None else int(seed)
    seed_b = seed if seed_b is None else int(seed_b)
    generator = pipeline.generator_for(resolution)
    truncation = snap_truncation(truncation, generator.model.config.n_stats)
    z = generator.class_embeddings
    ends = torch.stack([pipeline.class_distribution(text_a), pipeline.class_distribution(text_b)]).to(z.device)
    vector_a, vector_b = blend(ends, z, DEFAULT_BLEND)
    shares = torch.linspace(0, 1, frames, device=z.device)
    vectors = torch.lerp(vector_a, vector_b, shares[:, None])
    noise = slerp(generator.noise(1, truncation, seed)[0], generator.noise(1, truncation, seed_b)[0], shares)
    images: list[Image.Image] = []
    for start in range(0, frames, FRAME_BATCH):
        progress(start / frames, f"frames {start + 1}-{min(start + FRAME_BATCH, frames)} of {frames}")
        batch = slice(start, start + FRAME_BATCH)
        images += to_pil(generator.draw(noise[batch], vectors[batch], truncation))
    progress(1.0, "encoding the animation")
    return images, seed, seed_b


def to_webp(frames: list[Image.Image], frame_ms: int = FRAME_MS) -> bytes:
    """An animated, lossless WebP that loops forever, `frame_ms` per frame. Lossless: lossy WebP merges a frame
    within a few levels of the one before into it (adding its time), so a slow stretch of a morph would lose
    frames, and its ends would no longer be the two texts' images exactly. Only an exact copy is merged here."""
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0, lossless=True)
    return out.getvalue()
