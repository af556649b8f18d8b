import math

import numpy as np
import pytest
import torch

from mapper.biggans import BigGANs
from mapper.fingerprint import tensor_sha256
from mapper.gan import MAX_SEED, to_pil
from mapper.models import Mapper, MapperConfig
from mapper.pipeline import DEFAULT_TRUNCATION, MAX_TEXT_CHARS, MIN_CLASS_SHARE, TextToImagePipeline, draw_classes
from mapper.reading import class_names

CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


@pytest.fixture(scope="module")
def pipe(small_mapper_dir, tiny_biggan_real_z_dir, minilm_path) -> TextToImagePipeline:
    return TextToImagePipeline.from_pretrained(str(small_mapper_dir), str(tiny_biggan_real_z_dir), minilm_path, "cpu")


def pixels(out) -> list[np.ndarray]:
    return [np.asarray(image) for image in out.images]


def test_reads_the_class_and_draws_a_batch(pipe):
    out = pipe("a tabby cat sleeping on the sofa", num_images=3, seed=7)
    assert out.classes[0][0] in CATS
    assert len(out.classes) == 5 and [p for _, p in out.classes] == sorted((p for _, p in out.classes), reverse=True)
    assert [im.size for im in out.images] == [(32, 32)] * 3 and out.seed == 7
    first, second, _ = pixels(out)
    assert not np.array_equal(first, second)  # each image of the batch has its own noise


def test_same_seed_same_pixels_and_a_drawn_seed_is_reported(pipe):
    assert all(np.array_equal(a, b) for a, b in zip(pixels(pipe("a taxi", seed=3)), pixels(pipe("a taxi", seed=3))))
    drawn = pipe("a taxi", seed=None)
    assert 0 <= drawn.seed <= MAX_SEED
    assert np.array_equal(pixels(drawn)[0], pixels(pipe("a taxi", seed=drawn.seed))[0])
    assert not np.array_equal(pixels(drawn)[0], pixels(pipe("a taxi", seed=(drawn.seed + 1) % MAX_SEED))[0])


@pytest.mark.parametrize("text", ["我的猫在睡觉", "🐱🐱🐱", "Die Katze schläft. 🚗"])
def test_any_script_or_emoji_still_draws(pipe, text):
    out = pipe(text)
    probs = [p for _, p in out.classes]
    assert out.images[0].size == (32, 32) and all(math.isfinite(p) for p in probs) and 0 < sum(probs) <= 1 + 1e-6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"text": ""}, "please type some text"),
        ({"text": " \n\t"}, "please type some text"),
        ({"text": None}, "please type some text"),
        ({"text": "\u200b\x00\ufeff \u2060"}, "please type some text"),  # invisible characters only
        ({"text": 5}, "text must be a string, got 5"),
        ({"text": ["a cat"]}, "text must be a string, got a list"),
        ({"text": "x" * 10_000}, "text is 10,000 characters; keep it under 1,000"),
        ({"truncation": 0}, "truncation must be a number in (0, 1], got 0"),
        ({"truncation": 1.02}, "truncation must be a number in (0, 1], got 1.02"),
        ({"truncation": float("nan")}, "truncation must be a number in (0, 1], got nan"),
        ({"truncation": "0.4"}, "truncation must be a number in (0, 1], got a str"),
        ({"seed": -1}, f"seed must be a whole number from 0 to {MAX_SEED:,}, got -1"),
        ({"seed": MAX_SEED + 1}, f"got {MAX_SEED + 1}"),
        ({"seed": 2.5}, "seed must be a whole number"),
        ({"num_images": 0}, "number of images must be a whole number from 1 to 4, got 0"),
        ({"num_images": -3}, "got -3"),
        ({"num_images": 10**9}, "got 1000000000"),
        ({"num_images": 1.5}, "got 1.5"),
        ({"num_images": True}, "got a bool"),
        ({"blend_amount": 1.5}, "blend must be a number in [0, 1], got 1.5"),
        ({"per_image_classes": 1}, "per_image_classes must be true or false, got 1"),
        ({"resolution": 64}, "resolution must be one of 32, got 64"),
    ],
)
def test_bad_input_is_refused_with_its_name_before_any_model_runs(pipe, monkeypatch, kwargs, message):
    monkeypatch.setattr(pipe.encoder, "encode", lambda texts: pytest.fail("encoded before checking the input"))
    with pytest.raises(ValueError) as err:
        pipe(**{"text": "a cat", **kwargs})
    assert message in str(err.value)
    assert "xxxxxxxx" not in str(err.value)  # the text itself is never echoed


def test_longest_allowed_text_draws(pipe):
    assert len(pipe("a cat " * (MAX_TEXT_CHARS // 6)).images) == 1


def test_integral_floats_from_sliders_are_accepted(pipe):
    out = pipe("a sports car", seed=5.0, num_images=2.0)
    assert len(out.images) == 2 and out.seed == 5 and isinstance(out.seed, int)


def counting_encodes(pipeline: TextToImagePipeline, monkeypatch) -> list[str]:
    """The texts the pipeline's encoder is asked to encode from now on."""
    seen: list[str] = []
    encode = pipeline.encoder.encode
    monkeypatch.setattr(pipeline.encoder, "encode", lambda texts: seen.extend(texts) or encode(texts))
    return seen


def test_a_repeated_text_skips_the_encoder_and_draws_the_same_images(pipe, monkeypatch):
    uncached = TextToImagePipeline(pipe.encoder, pipe.mapper, pipe.generator, text_cache_size=0)
    encoded = counting_encodes(pipe, monkeypatch)
    first = pipe("a lighthouse on a cliff at dusk", seed=11, num_images=2)
    again = pipe("a lighthouse on a cliff at dusk", seed=11, num_images=2)
    fresh = uncached("a lighthouse on a cliff at dusk", seed=11, num_images=2)
    assert encoded == ["a lighthouse on a cliff at dusk"] * 2  # once by `pipe`, once by the uncached one
    assert first.classes == again.classes == fresh.classes
    assert all(np.array_equal(a, b) for a, b in zip(pixels(first), pixels(fresh)))
    assert all(np.array_equal(a, b) for a, b in zip(pixels(again), pixels(fresh)))


def test_the_text_cache_keeps_only_the_latest_texts(pipe, monkeypatch):
    small = TextToImagePipeline(pipe.encoder, pipe.mapper, pipe.generator, text_cache_size=2)
    encoded = counting_encodes(small, monkeypatch)
    for text in ["a kayak", "a violin", "a kayak", "a teapot", "a kayak", "a violin"]:
        small.class_distribution(text)
    # "a kayak", used again, stayed; "a violin", the least recently used, made room for "a teapot"
    assert encoded == ["a kayak", "a violin", "a teapot", "a violin"]
    assert small.remembered.cache_info().currsize == 2


def test_text_is_read_as_normalised_and_cached_once_for_every_way_of_writing_it(pipe, monkeypatch):
    fresh = TextToImagePipeline(pipe.encoder, pipe.mapper, pipe.generator)
    encoded = counting_encodes(fresh, monkeypatch)
    plain = fresh("a tabby cat on a sofa", seed=2)
    for disguised in ("  a tabby\u200b cat\non a sofa\x00 ", "a tabby cat on a sofa\ufeff", "a\ud800 tabby cat on a sofa"):
        out = fresh(disguised, seed=2)
        assert out.classes == plain.classes and np.array_equal(pixels(out)[0], pixels(plain)[0])
    assert encoded == ["a tabby cat on a sofa"]
    assert fresh("cafe\u0301 au lait").classes == fresh("caf\u00e9 au lait").classes and encoded[-1] == "caf\u00e9 au lait"


def test_a_class_per_image_is_drawn_from_the_reading_none_twice_and_fixed_by_the_seed(pipe):
    out = pipe("a dog", seed=5, num_images=4, per_image_classes=True)
    again = pipe("a dog", seed=5, num_images=4, per_image_classes=True, blend_amount=0.0)  # blend: mixing only
    assert out.captions == again.captions and all(np.array_equal(a, b) for a, b in zip(pixels(out), pixels(again)))
    held = [name for _, name, p in pipe.read("a dog").classes if p >= MIN_CLASS_SHARE]
    assert len(held) >= 3 and set(out.captions) <= set(held)
    assert len(set(out.captions)) == min(4, len(held))  # none twice while another is left
    orders = {tuple(pipe("a dog", seed=seed, num_images=4, per_image_classes=True).captions) for seed in range(8)}
    assert len(orders) > 1  # the seed draws them
    top = pipe.read("a dog").classes[0][1]
    mixed = pipe("a dog", seed=5, num_images=4)
    assert mixed.captions == [top] * 4 and not np.array_equal(pixels(mixed)[0], pixels(out)[0])


def test_classes_the_reading_all_but_rules_out_are_never_drawn():
    probs = torch.zeros(1000)
    probs[[3, 7, 9]] = torch.tensor([0.7, 0.29, 0.01])
    drawn = draw_classes(probs, 4, seed=1)
    assert sorted(set(drawn.tolist())) == [3, 7] and torch.equal(drawn, draw_classes(probs, 4, seed=1))
    assert draw_classes(torch.full((1000,), 0.001), 2, seed=0).tolist() == [0, 0]  # none holds a share: the top


def test_each_image_drawn_for_its_class_gets_that_class_s_own_vector(pipe):
    out = pipe("a dog", seed=5, num_images=4, per_image_classes=True)
    index = {name: i for i, name in enumerate(class_names())}
    vectors = pipe.generator.class_embeddings[[index[c] for c in out.captions]]
    expected = to_pil(pipe.generator.generate(vectors, DEFAULT_TRUNCATION, seed=5))
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(out.images, expected))


@pytest.fixture(scope="module")
def two_sizes(pipe, narrow_biggan_dirs) -> TextToImagePipeline:
    """The small mapper with the tiny BigGAN (32, its Z real) and a narrow 256 one whose Z is its own."""
    return TextToImagePipeline(pipe.encoder, pipe.mapper, BigGANs(pipe.generator, [narrow_biggan_dirs[256]]))


def test_one_classifier_draws_every_resolution_the_others_on_first_use(two_sizes):
    assert two_sizes.biggans.sizes == [32, 256] and not two_sizes.biggans.is_loaded(256)
    small = two_sizes("a tabby cat", seed=1)
    large = two_sizes("a tabby cat", seed=1, resolution=256)
    assert small.images[0].size == (32, 32) and large.images[0].size == (256, 256)
    assert two_sizes.biggans.is_loaded(256) and small.classes == large.classes
    for bad in (64, "256", 256.5, True):
        with pytest.raises(ValueError, match="resolution must be one of 32, 256"):
            two_sizes("a tabby cat", resolution=bad)


def test_a_regression_mapper_is_refused_for_another_z_when_that_biggan_loads(minilm, tiny_generator, narrow_biggan_dirs):
    z = tiny_generator.class_embeddings
    config = MapperConfig("linear", minilm.hidden_size, "minilm", minilm.fingerprint, "tiny", tensor_sha256(z))
    pipeline = TextToImagePipeline(minilm, Mapper(config, z), BigGANs(tiny_generator, [narrow_biggan_dirs[256]]))
    assert pipeline("a cat", resolution=32).images[0].size == (32, 32)
    with pytest.raises(ValueError, match="targets the class embeddings of 'tiny'; the BigGAN given has different ones"):
        pipeline("a cat", resolution=256)
    assert not pipeline.biggans.is_loaded(256)
