import re

import pytest
import torch

from mapper.gan import BrokenImageError, Generator, biggan_image_size, image_fault, resolve_biggan, snap_truncation, to_pil


def vectors(generator, classes):
    return generator.class_embeddings[classes]


def test_loads_through_from_pretrained_with_real_shapes(tiny_generator):
    assert tiny_generator.class_embeddings.shape == (1000, 128)
    assert torch.equal(tiny_generator.class_embeddings, tiny_generator.model.embeddings.weight.T)
    images = tiny_generator.generate(vectors(tiny_generator, [1, 281, 999]), truncation=0.4, seed=3)
    assert images.shape == (3, 3, 32, 32)
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0


def test_same_seed_same_image_bit_for_bit(tiny_generator):
    z = vectors(tiny_generator, [281])
    a = tiny_generator.generate(z, 0.4, seed=7)
    b = tiny_generator.generate(z, 0.4, seed=7)
    c = tiny_generator.generate(z, 0.4, seed=8)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3


def test_truncation_is_honoured_and_snapped(tiny_generator):
    z = vectors(tiny_generator, [281])
    low, high = tiny_generator.generate(z, 0.1, seed=1), tiny_generator.generate(z, 1.0, seed=1)
    assert (low - high).abs().max() > 1e-3
    assert torch.equal(tiny_generator.generate(z, 0.401, seed=1), tiny_generator.generate(z, 0.4, seed=1))
    assert snap_truncation(0.411) == 0.42 and snap_truncation(1e-6) == 0.02
    for bad in (0, -0.5, 1.01):
        with pytest.raises(ValueError, match="truncation"):
            tiny_generator.generate(z, bad, seed=1)


def test_seed_out_of_range(tiny_generator):
    with pytest.raises(ValueError, match="seed"):
        tiny_generator.generate(vectors(tiny_generator, [0]), 0.4, seed=-1)
    with pytest.raises(ValueError, match="seed"):
        tiny_generator.generate(vectors(tiny_generator, [0]), 0.4, seed=2**32)


def test_to_pil():
    images = torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    pils = to_pil(images)
    assert len(pils) == 2 and pils[0].size == (4, 4) and pils[0].mode == "RGB"
    assert pils[0].getpixel((0, 0)) == (0, 128, 255)


def test_unknown_name_and_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="biggan-deep-1024"):
        resolve_biggan("biggan-deep-1024")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Generator.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="pytorch_model.bin"):
        (tmp_path / "half").mkdir()
        (tmp_path / "half" / "config.json").write_text("{}")
        Generator.from_pretrained(tmp_path / "half")


def test_named_model_without_hub_gives_clear_error():
    with pytest.raises(OSError, match="osanseviero/BigGAN-deep-128"):
        resolve_biggan("biggan-deep-128")


def test_checkpoint_missing_weights_is_refused(tiny_biggan_dir, tmp_path):
    state = torch.load(tiny_biggan_dir / "pytorch_model.bin", weights_only=True)
    del state["embeddings.weight"]
    (tmp_path / "config.json").write_text((tiny_biggan_dir / "config.json").read_text())
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="embeddings.weight"):
        Generator.from_pretrained(tmp_path)


@pytest.mark.parametrize("optimize", [True, False])
def test_a_checkpoint_whose_image_is_not_finite_is_refused_naming_it(tiny_biggan_dir, tmp_path, optimize):
    state = torch.load(tiny_biggan_dir / "pytorch_model.bin", weights_only=True)
    state["generator.bn.weight"].fill_(float("nan"))  # what the package's uninitialised final batch norm can hold
    (tmp_path / "config.json").write_text((tiny_biggan_dir / "config.json").read_text())
    torch.save(state, tmp_path / "pytorch_model.bin")
    message = f"BigGAN {tmp_path}: its image for a fixed input is broken (3,072 of 3,072 values are not finite)"
    with pytest.raises(ValueError, match=re.escape(message)):
        Generator.from_pretrained(tmp_path, optimize=optimize)


def test_images_not_finite_or_out_of_range_are_faults():
    assert image_fault(torch.tensor([-1.0, 0.0, 1.0])) is None
    assert image_fault(torch.tensor([0.0, float("nan"), float("inf")])) == "2 of 3 values are not finite"
    assert image_fault(torch.tensor([0.5, -1.25])) == "values reach 1.25, outside [-1, 1]"


@pytest.mark.parametrize("value, fault", [(float("nan"), "not finite"), (2.0, "outside")])
def test_a_broken_image_after_load_is_an_error_never_an_image(tiny_generator, monkeypatch, value, fault):
    z = vectors(tiny_generator, [281])
    monkeypatch.setattr(tiny_generator, "network", lambda cond, truncation: torch.full((len(cond), 3, 32, 32), value))
    with pytest.raises(BrokenImageError, match=fault):
        tiny_generator.generate(z, 0.4, seed=1)


def test_image_size_is_known_without_loading_the_weights(tiny_biggan_dir, tmp_path):
    assert [biggan_image_size(f"biggan-deep-{size}") for size in (128, 256, 512)] == [128, 256, 512]  # no Hub
    assert biggan_image_size(tiny_biggan_dir) == 32
    (tmp_path / "config.json").write_text('{"z_dim": 128}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="gives no image size"):
        biggan_image_size(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        biggan_image_size(tmp_path / "nowhere")


def test_draw_with_the_seed_s_noise_is_generate(tiny_generator):
    z = vectors(tiny_generator, [1, 281])
    noise = tiny_generator.noise(2, 0.4, seed=9)
    assert torch.equal(tiny_generator.draw(noise, z, 0.4), tiny_generator.generate(z, 0.4, seed=9))


def test_a_named_biggan_is_downloaded_at_the_revision_given(tiny_biggan_dir, monkeypatch):
    import huggingface_hub

    calls = []

    def snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(tiny_biggan_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    assert resolve_biggan("biggan-deep-256", revision="0123abc") == tiny_biggan_dir
    assert Generator.from_pretrained("biggan-deep-128", "cpu", revision="v1").image_size == 32
    files = ["config.json", "pytorch_model.bin"]
    assert calls == [
        ("osanseviero/BigGAN-deep-256", {"allow_patterns": files, "revision": "0123abc"}),
        ("osanseviero/BigGAN-deep-128", {"allow_patterns": files, "revision": "v1"}),
    ]
    with pytest.raises(OSError, match="osanseviero/BigGAN-deep-128 at revision 'v2'"):
        monkeypatch.undo()
        resolve_biggan("biggan-deep-128", revision="v2")
