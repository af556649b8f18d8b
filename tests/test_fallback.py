import json
import logging
from pathlib import Path

import pytest
import torch

from mapper import fallback
from mapper.encoder import DEFAULT_ENCODER
from mapper.fallback import DEFAULT_MAPPER, MPNET_ENCODER, RECORD_NAME, Recipe, cache_home, load_pipeline
from mapper.models import DEFAULT_ARCH
from mapper.revisions import Revisions
from mapper.training import TrainConfig

# A few classes keep the real build and training to seconds; the app's default recipe takes all 1000.
FEW_CLASSES = [281, 282, 283, 284, 285, 468, 817]
CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
NOT_PUSHED = "text2biggan-tests/mapper-not-pushed-yet"  # HF_HUB_OFFLINE=1 (conftest): the Hub never answers


@pytest.fixture
def parts(minilm_path, tiny_biggan_real_z_dir) -> dict:
    return {"biggan": str(tiny_biggan_real_z_dir), "encoder": minilm_path, "device": "cpu"}


def test_unreachable_mapper_is_trained_once_cached_and_reused(parts, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="mapper")
    recipe = Recipe(FEW_CLASSES, TrainConfig(epochs=2))
    first = load_pipeline(NOT_PUSHED, **parts, recipe=recipe, cache=tmp_path)

    assert first.mapper == NOT_PUSHED and first.fallback.parent == tmp_path / "mappers"
    assert sorted(p.name for p in first.fallback.iterdir()) == ["README.md", "config.json", RECORD_NAME, "model.safetensors"]
    record = json.loads((first.fallback / RECORD_NAME).read_text())
    assert record["classes"] == FEW_CLASSES and record["metrics"]["heldout_template"]["top1"] >= 0.5
    log = caplog.text
    for step in ("could not load mapper", "training the fallback mapper once", "1/3", "2/3", "3/3", "passed its check",
                 "ready"):
        assert step in log
    assert [p.name for p in tmp_path.iterdir()] == ["mappers"] and len(list((tmp_path / "mappers").iterdir())) == 1
    # a real mapper: it reads the text
    assert first.pipeline("a tabby cat").classes[0][0] in CATS
    assert first.pipeline("a yellow taxi in the city").classes[0][0] == "cab"

    caplog.clear()
    monkeypatch.setattr(fallback, "train", lambda *a, **k: pytest.fail("trained again instead of reusing the cache"))
    second = load_pipeline(NOT_PUSHED, **parts, recipe=recipe, cache=tmp_path)
    assert second.fallback == first.fallback and "earlier start" in caplog.text
    text = "my cat sleeps all day"
    assert torch.equal(first.pipeline.class_distribution(text), second.pipeline.class_distribution(text))


def test_a_different_recipe_never_reuses_another_mapper(minilm, tiny_generator):
    names = {
        fallback.entry_name(minilm, tiny_generator, recipe)
        for recipe in (Recipe(), Recipe(FEW_CLASSES), Recipe(FEW_CLASSES, TrainConfig(epochs=2)))
    }
    assert len(names) == 3 and all(n.startswith(f"{DEFAULT_ARCH}-") for n in names)


def older_version(entry: Path) -> None:
    config = json.loads((entry / "config.json").read_text())
    (entry / "config.json").write_text(json.dumps({**config, "a_field_of_an_older_version": 1}))


def cut_short(entry: Path) -> None:  # an interrupted copy, a disk error
    weights = entry / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])


def lost(entry: Path) -> None:
    (entry / "model.safetensors").unlink()


def test_a_cached_mapper_that_no_longer_loads_is_trained_again(parts, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="mapper")
    recipe = Recipe(FEW_CLASSES, TrainConfig(arch="linear"))  # closed-form: the build is most of the cost
    trained: list = []
    train_fallback = fallback.train_fallback
    monkeypatch.setattr(fallback, "train_fallback", lambda *a: trained.append(train_fallback(*a)) or trained[-1])
    entry = load_pipeline(NOT_PUSHED, **parts, recipe=recipe, cache=tmp_path).fallback
    # later trainings give the first one's mapper back: what is tested is that they happen and are cached
    monkeypatch.setattr(fallback, "train_fallback", lambda *a: trained.append(trained[0]) or trained[0])
    for damage in (older_version, cut_short, lost):
        damage(entry)
        caplog.clear()
        again = load_pipeline(NOT_PUSHED, **parts, recipe=recipe, cache=tmp_path)
        assert again.fallback == entry and "no longer loads" in caplog.text and "training it again" in caplog.text
        assert again.pipeline("a yellow taxi in the city").classes[0][0] == "cab"
    assert len(trained) == 4  # the first, and once after each damage
    caplog.clear()
    load_pipeline(NOT_PUSHED, **parts, recipe=recipe, cache=tmp_path)
    assert len(trained) == 4 and "earlier start" in caplog.text  # the last one was cached whole


def test_a_mapper_that_did_not_learn_is_refused_and_not_cached(parts, tmp_path):
    frozen = Recipe(FEW_CLASSES, TrainConfig(arch="mlp", epochs=1, lr=1e-12))  # random weights stay random
    with pytest.raises(RuntimeError, match="failed its check: top-1 0.[0-4]"):
        load_pipeline(NOT_PUSHED, **parts, recipe=frozen, cache=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing cached, nothing left over


def test_a_missing_local_mapper_folder_is_an_error_not_a_fallback(parts, tmp_path, monkeypatch):
    monkeypatch.setattr(fallback, "fallback_mapper", lambda *a: pytest.fail("trained a fallback for a typo"))
    with pytest.raises(FileNotFoundError, match="mapper folder not found"):
        load_pipeline(str(tmp_path / "no-such-mapper"), **parts, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_cache_home_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("TEXT2BIGGAN_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_home() == tmp_path / "home" / ".cache" / "text2biggan"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_home() == tmp_path / "xdg" / "text2biggan"
    monkeypatch.setenv("TEXT2BIGGAN_HOME", str(tmp_path / "mine"))
    assert cache_home() == Path(tmp_path / "mine")


MPNET_MAPPER = "text2biggan/mapper-mpnet-biggan-deep-128"


@pytest.fixture
def asked(monkeypatch) -> list:
    """What load_pipeline asks for: the mapper it tries, then the encoder and device, where it is stopped."""
    calls: list = []

    def mapper_not_pushed(name, revision=None):
        calls.append(name if revision is None else (name, revision))
        raise OSError(f"could not load mapper {name}")

    def stop(name, device, revision=None):
        calls.append((name, device) if revision is None else (name, device, revision))
        raise ValueError("stopped before loading any encoder")

    monkeypatch.setattr(fallback.Mapper, "from_pretrained", mapper_not_pushed)
    monkeypatch.setattr(fallback.TextEncoder, "from_pretrained", stop)
    return calls


@pytest.mark.parametrize("device, mapper, encoder", [
    ("cpu", DEFAULT_MAPPER, DEFAULT_ENCODER), ("cuda", MPNET_MAPPER, MPNET_ENCODER),
    ("cuda:1", MPNET_MAPPER, MPNET_ENCODER), ("mps", DEFAULT_MAPPER, DEFAULT_ENCODER),
])
def test_with_nothing_configured_it_is_all_minilm_on_a_cpu_and_all_mpnet_on_a_gpu(
    asked, monkeypatch, device, mapper, encoder
):
    monkeypatch.setattr(fallback.devices, "default_device", lambda: device)
    with pytest.raises(ValueError, match="stopped"):
        load_pipeline()
    assert asked == [mapper, (encoder, device)]


def test_a_configured_encoder_gets_its_own_mapper(asked):
    for encoder in (MPNET_ENCODER, DEFAULT_ENCODER):
        with pytest.raises(ValueError, match="stopped"):
            load_pipeline(encoder=encoder, device="cpu")
    assert asked == [MPNET_MAPPER, (MPNET_ENCODER, "cpu"), DEFAULT_MAPPER, (DEFAULT_ENCODER, "cpu")]


def test_a_configured_mapper_is_the_one_loaded(asked):
    with pytest.raises(ValueError, match="stopped"):
        load_pipeline("someone/their-mapper", device="cuda")
    with pytest.raises(ValueError, match="stopped"):
        load_pipeline("someone/their-mapper", device="cpu")
    assert asked == [  # an unreachable one: the fallback trained for the device's encoder
        "someone/their-mapper", (MPNET_ENCODER, "cuda"), "someone/their-mapper", (DEFAULT_ENCODER, "cpu"),
    ]


def test_each_hub_repo_is_asked_for_at_its_pin_or_the_override(asked):
    pins = Revisions({DEFAULT_MAPPER: "m1", DEFAULT_ENCODER: "e1", "someone/their-mapper": "t1"})
    for revisions in (pins, Revisions(pins.pins, mapper="m2", encoder="e2")):
        with pytest.raises(ValueError, match="stopped"):
            load_pipeline(device="cpu", revisions=revisions)
    with pytest.raises(ValueError, match="stopped"):
        load_pipeline("someone/their-mapper", device="cpu", revisions=pins)
    assert asked == [
        (DEFAULT_MAPPER, "m1"), (DEFAULT_ENCODER, "cpu", "e1"),
        (DEFAULT_MAPPER, "m2"), (DEFAULT_ENCODER, "cpu", "e2"),
        ("someone/their-mapper", "t1"), (DEFAULT_ENCODER, "cpu", "e1"),
    ]


def test_each_biggan_from_the_hub_loads_at_its_pin(parts, tiny_biggan_dir, small_mapper_dir, monkeypatch):
    """The first BigGAN at start, another on first use, each at its own repo's pin; BIGGAN_REVISION overrides all."""
    import huggingface_hub

    asked = []

    def snapshot_download(repo_id, allow_patterns, revision):
        asked.append((repo_id, revision))
        return str(tiny_biggan_dir)  # a tiny stand-in, 32 x 32, whatever the name

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    pins = Revisions({"osanseviero/BigGAN-deep-128": "g128", "osanseviero/BigGAN-deep-256": "g256"})
    for revisions, want in ((pins, ["g128", "g256"]), (Revisions(pins.pins, biggan="v2"), ["v2", "v2"])):
        asked.clear()
        loaded = load_pipeline(str(small_mapper_dir), "biggan-deep-128,biggan-deep-256", parts["encoder"], "cpu",
                               revisions=revisions)
        assert asked == [("osanseviero/BigGAN-deep-128", want[0])]
        loaded.pipeline.generator_for(256)
        assert asked == [("osanseviero/BigGAN-deep-128", want[0]), ("osanseviero/BigGAN-deep-256", want[1])]


def test_an_encoder_with_no_published_mapper_needs_one_named(asked, tmp_path):
    with pytest.raises(ValueError, match=f"no published mapper for encoder '{tmp_path}' .*; name a mapper for it"):
        load_pipeline(encoder=str(tmp_path), device="cuda")
    assert asked == []
