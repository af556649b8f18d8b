import logging

import pytest
import torch
import torch.nn.functional as F
from pytorch_pretrained_biggan.model import GenBlock

from mapper import fast_generator, gan
from mapper.fast_generator import (
    BatchNormTable,
    FoldedBigGAN,
    spectral_normalized_weight,
    upsampled_affine_relu,
    upsampled_conv_weight,
)
from mapper.gan import Generator
from mapper.testing import DEEP_CONFIGS, TINY_BIGGAN_CONFIG, narrow_config, random_biggan

# Truncations k/50 where the package's float division misses grid row k, and the row it reads.
PACKAGE_MISREAD_ROWS = {7: 8, 14: 15, 28: 29, 29: 28, 47: 46}


@pytest.fixture(scope="module")
def model():
    return random_biggan(TINY_BIGGAN_CONFIG, seed=1)


@pytest.fixture(scope="module")
def folded(model):
    return FoldedBigGAN(model)


def cond_vectors(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 256, generator=torch.Generator().manual_seed(seed)) * 0.5


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("truncation", [0.02, 0.4, 0.5, 1.0])
@torch.inference_mode()
def test_folded_generator_equals_eager(model, folded, batch, truncation):
    cond = cond_vectors(batch, seed=batch)
    eager = model.generator(cond, truncation)
    images = folded(cond, truncation)
    assert images.shape == eager.shape and images.is_contiguous()
    assert eager.std() > 0.1  # a real image, not a constant
    torch.testing.assert_close(images, eager, rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", sorted(DEEP_CONFIGS))
def test_every_resolution_s_layout_folds_checks_at_load_and_equals_eager(size):
    """biggan-deep-128, -256 and -512's blocks and attention, at a narrow channel width: the start-up check
    passes (the folded generator serves) and its images equal eager's at the full image size."""
    generator = Generator(random_biggan(narrow_config(size), seed=size), f"narrow-{size}")
    assert generator.optimized and generator.image_size == size
    vectors = generator.class_embeddings[[1, 281]]
    noise = generator.noise(2, 0.6, seed=4)
    with torch.inference_mode():
        eager = generator.model.generator(torch.cat([noise, vectors], dim=1), 0.6)
    images = generator.draw(noise, vectors, 0.6)
    assert images.shape == (2, 3, size, size) and eager.std() > 0.05
    torch.testing.assert_close(images, eager, rtol=0, atol=1e-5)


@torch.inference_mode()
def test_unpacked_convolutions_as_off_cpu_give_the_same_images(model, folded, monkeypatch):
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    unpacked = FoldedBigGAN(model)
    assert folded.to_rgb.packed and not unpacked.to_rgb.packed
    cond = cond_vectors(2)
    torch.testing.assert_close(unpacked(cond, 0.4), folded(cond, 0.4), rtol=0, atol=1e-5)


@torch.inference_mode()
def test_attention_in_query_chunks_gives_the_same_images(model, folded, monkeypatch):
    cond = cond_vectors(2)
    whole = folded(cond, 0.4)  # the tiny model attends over 16 x 16 = 256 pixels: one chunk
    monkeypatch.setattr(fast_generator, "ATTENTION_QUERY_CHUNK", 100)
    torch.testing.assert_close(folded(cond, 0.4), whole, rtol=0, atol=1e-6)


def test_generator_runs_folded_by_default_and_eager_on_request(tiny_biggan_dir):
    fast = Generator.from_pretrained(tiny_biggan_dir)
    eager = Generator.from_pretrained(tiny_biggan_dir, optimize=False)
    assert fast.optimized and isinstance(fast.network, FoldedBigGAN)
    assert not eager.optimized and eager.network is eager.model.generator
    vectors = fast.class_embeddings[[1, 281, 999]]
    torch.testing.assert_close(fast.generate(vectors, 0.6, seed=5), eager.generate(vectors, 0.6, seed=5), rtol=0, atol=1e-5)


def test_spectral_norm_is_divided_out_as_the_module_does(model, folded):
    block = model.generator.layers[0]
    conv = block.conv_2
    weight_mat = conv.weight_orig.flatten(1)
    sigma = torch.dot(conv.weight_u, weight_mat @ conv.weight_v)
    torch.testing.assert_close(spectral_normalized_weight(conv), conv.weight_orig / sigma, rtol=1e-6, atol=0)
    assert torch.equal(folded.layers[0].conv_2.weight.to_dense(), spectral_normalized_weight(conv))
    with torch.no_grad():  # an eval-mode forward leaves the weight it used on the module
        conv(torch.zeros(1, conv.in_channels, 4, 4))
    assert torch.equal(spectral_normalized_weight(conv), conv.weight)


def test_upsampled_conv_is_conv_of_nearest_upsample():
    x = torch.randn(2, 5, 4, 6).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.randn(7, 5, 3, 3), torch.randn(7)
    scale, shift = torch.randn(2, 7, 1, 1), torch.randn(2, 7, 1, 1)
    expected = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1) * scale + shift
    phases = F.conv2d(x, upsampled_conv_weight(weight), bias.repeat(4), padding=1)
    torch.testing.assert_close(upsampled_affine_relu(phases, (scale, shift)), expected.relu(), rtol=1e-5, atol=1e-5)


def conditional_norms(model):
    blocks = [layer for layer in model.generator.layers if isinstance(layer, GenBlock)]
    return [bn for block in blocks for bn in (block.bn_0, block.bn_1, block.bn_2, block.bn_3)]


@torch.inference_mode()
def test_folded_batch_norms_equal_the_modules_at_exact_grid_points(model):
    norms = conditional_norms(model)
    table = BatchNormTable(norms)
    cond = cond_vectors(2)
    exact_rows = [row for row in range(1, 51) if row not in PACKAGE_MISREAD_ROWS]
    for row in exact_rows:
        folded = table(cond, row)
        for norm, (scale, shift) in zip(norms, folded):
            x = torch.randn(2, norm.num_features, 3, 3)
            torch.testing.assert_close(x * scale + shift, norm(x, row / 50, cond), rtol=1e-5, atol=1e-5)


@torch.inference_mode()
def test_folded_batch_norms_read_the_exact_row_where_the_package_misses_it(model):
    norm = conditional_norms(model)[1]
    cond = cond_vectors(1)
    table = BatchNormTable([norm])
    x = torch.randn(1, norm.num_features, 3, 3)
    gain, offset = 1 + norm.scale(cond)[..., None, None], norm.offset(cond)[..., None, None]

    def normalized_with_row(row: int) -> torch.Tensor:
        mean, var = norm.running_means[row, :, None, None], norm.running_vars[row, :, None, None]
        return (x - mean) / torch.sqrt(var + norm.eps) * gain + offset

    for row, misread in PACKAGE_MISREAD_ROWS.items():
        scale, shift = table(cond, row)[0]
        torch.testing.assert_close(x * scale + shift, normalized_with_row(row), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(norm(x, row / 50, cond), normalized_with_row(misread))


def test_falls_back_to_eager_with_a_log_line_when_folding_fails(model, monkeypatch, caplog):
    def unavailable(_model):
        raise RuntimeError("no fast path here")

    monkeypatch.setattr(gan, "FoldedBigGAN", unavailable)
    with caplog.at_level(logging.INFO, logger="mapper.gan"):
        generator = Generator(model, "tiny")
    assert generator.network is model.generator and not generator.optimized
    assert "folded generator unavailable (RuntimeError: no fast path here); running eager" in caplog.text
    assert "eager generator" in caplog.text
    assert generator.generate(generator.class_embeddings[:2], 0.4, seed=0).shape == (2, 3, 32, 32)


def test_falls_back_to_eager_when_the_folded_image_disagrees(model, monkeypatch, caplog):
    monkeypatch.setattr(FoldedBigGAN, "forward", lambda self, cond, truncation: torch.zeros(len(cond), 3, 32, 32))
    with caplog.at_level(logging.WARNING, logger="mapper.gan"):
        generator = Generator(model, "tiny")
    assert not generator.optimized
    assert "its image differs from eager's" in caplog.text


def test_device_defaults_to_cuda_when_available(tiny_biggan_dir, monkeypatch):
    moved_to = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, device: moved_to.append(device) or self)
    Generator.from_pretrained(tiny_biggan_dir, optimize=False)
    assert moved_to == ["cuda"]
