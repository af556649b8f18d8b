import io

import numpy as np
import pytest
import torch
from PIL import Image

from mapper.morph import DEFAULT_FRAMES, FRAME_BATCH, MAX_FRAMES, check_frames, morph_frames, slerp, to_webp
from mapper.pipeline import TextToImagePipeline


@pytest.fixture(scope="module")
def pipe(small_mapper_dir, tiny_biggan_real_z_dir, minilm_path) -> TextToImagePipeline:
    return TextToImagePipeline.from_pretrained(str(small_mapper_dir), str(tiny_biggan_real_z_dir), minilm_path, "cpu")


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_frames_in_batches_start_and_end_at_each_text_s_image(pipe):
    frames = FRAME_BATCH + 3  # two batches, the second short
    steps = []
    images, seed, seed_b = morph_frames(pipe, "a tabby cat", "a sports car", frames, 0.4, 3, 4, progress=lambda s, w: steps.append(s))
    assert len(images) == frames and (seed, seed_b) == (3, 4) and images[0].size == (32, 32)
    start, end = pipe("a tabby cat", 0.4, 3).images[0], pipe("a sports car", 0.4, 4).images[0]
    assert np.abs(pixels(images[0]) - pixels(start)).max() <= 1 and np.abs(pixels(images[-1]) - pixels(end)).max() <= 1
    assert steps == [0.0, FRAME_BATCH / frames, 1.0]
    middle = pixels(images[frames // 2])  # neither end (the tiny random BigGAN barely minds the class: a few levels)
    assert np.abs(middle - pixels(start)).mean() > 1 and np.abs(middle - pixels(end)).mean() > 1


def test_one_seed_keeps_the_noise_and_none_draws_one(pipe):
    images, seed, seed_b = morph_frames(pipe, "a tabby cat", "a sports car", 3, 0.4, None)
    assert 0 <= seed < 2**32 and seed_b == seed
    assert np.abs(pixels(images[-1]) - pixels(pipe("a sports car", 0.4, seed).images[0])).max() <= 1


def test_slerp_keeps_the_norm_on_the_great_circle_and_is_a_line_for_one_point():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 2.0])
    path = slerp(a, b, torch.linspace(0, 1, 5))
    torch.testing.assert_close(path[0], a) and torch.testing.assert_close(path[-1], b)
    torch.testing.assert_close(path.norm(dim=1), torch.linspace(3, 2, 5))
    torch.testing.assert_close(path[2] / path[2].norm(), torch.tensor([0.5**0.5, 0.5**0.5]))
    torch.testing.assert_close(slerp(a, a, torch.tensor([0.0, 0.7])), torch.stack([a, a]))


@pytest.mark.parametrize("frames", [1, 0, MAX_FRAMES + 1, 2.5, "24", True])
def test_a_frame_count_out_of_range_is_refused_naming_it(frames):
    with pytest.raises(ValueError, match=f"frames must be a whole number from 2 to {MAX_FRAMES}"):
        check_frames(frames)
    assert check_frames(float(DEFAULT_FRAMES)) == DEFAULT_FRAMES


def test_bad_input_is_refused_before_any_model_runs(pipe, monkeypatch):
    monkeypatch.setattr(pipe.encoder, "encode", lambda texts: pytest.fail("encoded before checking the input"))
    for args, message in (
        (("", "a dog"), "please type some text"),
        (("a cat", "a dog", 4, 0.4, -3), "seed must be a whole number"),
        (("a cat", "a dog", 4, 0.4, 1, -3), "seed must be a whole number"),
        (("a cat", "a dog", 4, 1.5), "truncation must be a number in (0, 1]"),
        (("a cat", "a dog", 4, 0.4, 1, None, 64), "resolution must be one of 32, got 64"),
    ):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            morph_frames(pipe, *args)


def test_webp_is_animated_loops_and_decodes_to_the_frames():
    rng = np.random.default_rng(0)
    frames = [Image.fromarray(np.full((16, 24, 3), 40 * i, np.uint8)) for i in range(5)]
    frames[2] = Image.fromarray(rng.integers(0, 255, (16, 24, 3), np.uint8))
    with Image.open(io.BytesIO(to_webp(frames))) as animation:
        assert animation.format == "WEBP" and animation.n_frames == 5 and animation.info["loop"] == 0
        animation.seek(4)
        assert animation.size == (24, 16) and abs(int(np.asarray(animation.convert("RGB")).mean()) - 160) <= 2
