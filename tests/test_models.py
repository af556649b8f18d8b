import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from mapper.fingerprint import tensor_sha256
from mapper.models import (
    ARCHITECTURES,
    TARGET_CLASSES,
    TARGET_EMBEDDINGS,
    Mapper,
    MapperConfig,
    MeanPool,
    blend,
    top_classes,
)


def make(arch: str, z: torch.Tensor) -> Mapper:
    config = MapperConfig(arch, 16, "enc", "enc-sha", "gan", tensor_sha256(z), mlp_dim=32)
    return Mapper(config, z).eval()


@pytest.fixture
def z():
    torch.manual_seed(0)
    return torch.randn(1000, 128)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_shape_contract_and_padding(arch, z):
    mapper = make(arch, z)
    hidden, mask = torch.randn(3, 7, 16), torch.ones(3, 7, dtype=torch.long)
    mask[0, 4:] = 0
    out = mapper(hidden, mask)
    assert out.shape == (3, 128) and torch.isfinite(out).all()
    assert mapper.class_logits(hidden, mask).shape == (3, 1000)
    padded = hidden.clone()
    padded[0, 4:] = 99.0  # what sits under the mask must not matter
    assert torch.allclose(mapper(padded, mask)[0], out[0], atol=1e-5)
    assert torch.allclose(mapper(hidden[:1, :4], mask[:1, :4])[0], out[0], atol=1e-5)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_save_load_round_trip(arch, z, tmp_path):
    mapper = make(arch, z)
    for p in mapper.parameters():
        torch.nn.init.normal_(p)
    if mapper.is_classifier:  # a memory that speaks for every text
        mapper.config.memory_threshold = -1.0
        rows, definitions = torch.tensor([0, 1, 0, 1, 1, 0]), torch.tensor([0, 0, 1, 0, 1, 0]).bool()
        mapper.memory.store(torch.randn(6, 16), rows, torch.rand(2, 1000).softmax(-1), definitions)
    assert mapper.save_pretrained(tmp_path) == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    loaded = Mapper.from_pretrained(tmp_path)
    hidden, mask = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.long)
    assert loaded.config == mapper.config
    assert torch.equal(loaded(hidden, mask), mapper(hidden, mask))
    if mapper.is_classifier:
        assert len(loaded.memory) == 6


def test_memory_speaks_only_near_its_examples(z):
    mapper = make("classifier", z)
    hidden, mask = torch.randn(1, 5, 16), torch.ones(2, 5, dtype=torch.long)
    hidden = torch.cat([hidden, -hidden])  # mean pooling at the start: the second text is the first's opposite
    alone = mapper.class_probabilities(hidden, mask)
    recalled = torch.zeros(1, 1000)
    recalled[0, 42] = 1.0
    mapper.memory.store(mapper.features(hidden[:1], mask[:1]), torch.tensor([0]), recalled, torch.tensor([False]))
    mixed = mapper.class_probabilities(hidden, mask)
    share = mapper.config.memory_weight
    assert torch.allclose(mixed[0], (1 - share) * alone[0] + share * recalled[0], atol=1e-6)
    assert torch.equal(mixed[1], alone[1])  # cosine -1, under the threshold
    assert torch.allclose(mapper(hidden, mask), mixed @ z, atol=1e-5)
    mapper.config.memory_weight = 0.0
    assert torch.equal(mapper.class_probabilities(hidden, mask), alone)


def test_memory_asks_more_of_a_definition(z):
    mapper = make("classifier", z)
    hidden, mask = torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.long)
    alone = mapper.class_probabilities(hidden, mask)
    text = torch.nn.functional.normalize(mapper.features(hidden, mask), dim=-1)
    other = torch.randn_like(text)
    other = torch.nn.functional.normalize(other - (other @ text.T) * text, dim=-1)
    key = 0.85 * text + (1 - 0.85**2) ** 0.5 * other  # cosine 0.85: past the threshold, short of a definition's
    recalled = torch.zeros(1, 1000)
    recalled[0, 42] = 1.0
    config = mapper.config
    assert config.memory_threshold < 0.85 < config.memory_definition_threshold
    mapper.memory.store(key, torch.tensor([0]), recalled, torch.tensor([False]))
    assert mapper.class_probabilities(hidden, mask)[0, 42] >= config.memory_weight
    mapper.memory.store(key, torch.tensor([0]), recalled, torch.tensor([True]))
    assert torch.equal(mapper.class_probabilities(hidden, mask), alone)


def test_memory_less_classifier_loads_and_a_partial_memory_is_refused(z, tmp_path):
    from safetensors.torch import load_file, save_file

    mapper = make("classifier", z)
    mapper.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    save_file({k: v for k, v in load_file(weights).items() if not k.startswith("memory.")}, weights)
    loaded = Mapper.from_pretrained(tmp_path)
    hidden, mask = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.long)
    assert len(loaded.memory) == 0 and torch.equal(loaded(hidden, mask), mapper(hidden, mask))
    mapper.memory.store(torch.randn(2, 16), torch.tensor([0, 0]), torch.rand(1, 1000), torch.tensor([True, False]))
    mapper.save_pretrained(tmp_path)
    save_file({k: v for k, v in load_file(weights).items() if k != "memory.definitions"}, weights)
    with pytest.raises(ValueError, match="a memory without memory.definitions"):
        Mapper.from_pretrained(tmp_path)


def cut_short(path, keep: float = 0.5) -> None:
    """Keep only the first `keep` of a file, as an interrupted copy or a disk error leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize(
    "damage, file, message",
    [
        (lambda folder: cut_short(folder / "model.safetensors"), "model.safetensors",
         "cannot be read (Error while deserializing header: incomplete metadata, file not fully covered)"),
        (lambda folder: cut_short(folder / "config.json"), "config.json", "cannot be read as a mapper config"),
        (lambda folder: (folder / "config.json").write_text('{"arch": "windowed", "from_the_future": 1}'),
         "config.json", "unexpected keyword argument 'from_the_future'"),
    ],
    ids=["weights cut short", "config cut short", "config of another version"],
)
def test_a_mapper_file_that_cannot_be_read_is_refused_naming_it(z, tmp_path, damage, file, message):
    make("windowed", z).save_pretrained(tmp_path)
    damage(tmp_path)
    with pytest.raises(ValueError) as err:
        Mapper.from_pretrained(tmp_path)
    assert str(err.value).startswith(f"mapper file {tmp_path / file} ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_memory_refuses_rows_outside_its_table(z):
    memory = make("classifier", z).memory
    flags = torch.zeros(3, dtype=torch.bool)
    with pytest.raises(ValueError, match="rows must index 2 distributions"):
        memory.store(torch.randn(3, 16), torch.tensor([0, 1, 2]), torch.rand(2, 1000), flags)
    with pytest.raises(ValueError, match="3 keys, 2 rows, 3 definition flags"):
        memory.store(torch.randn(3, 16), torch.tensor([0, 1]), torch.rand(2, 1000), flags)


def test_adapter_starts_as_the_classifier(z):
    classifier, adapter = make("classifier", z), make("adapter", z)
    adapter.pool.pool.load_state_dict(classifier.pool.state_dict())
    adapter.head.load_state_dict(classifier.head.state_dict())
    hidden, mask = torch.randn(2, 6, 16), torch.ones(2, 6, dtype=torch.long)
    assert torch.equal(adapter.class_logits(hidden, mask), classifier.class_logits(hidden, mask))
    torch.nn.init.normal_(adapter.pool.mlp[-1].weight)  # once its output layer learns, it changes the text
    assert not torch.allclose(adapter.class_logits(hidden, mask), classifier.class_logits(hidden, mask))


def test_windowed_pooling_starts_as_mean_and_never_reads_padding(z):
    mapper = make("windowed", z)
    hidden, mask = torch.randn(2, 6, 16), torch.ones(2, 6, dtype=torch.long)
    mask[0, 3:] = 0
    mean = MeanPool()(hidden, mask)
    assert torch.allclose(mapper.features(hidden, mask), mean, atol=1e-6)
    torch.nn.init.normal_(mapper.pool.score.weight)  # once trained, each score reads its token's window
    features = mapper.features(hidden, mask)
    assert not torch.allclose(features, mean, atol=1e-2)
    padded = hidden.clone()
    padded[0, 3:] = 99.0  # the last real token's window reaches under the mask
    assert torch.allclose(mapper.features(padded, mask)[0], features[0], atol=1e-5)
    assert torch.allclose(mapper.features(hidden[:1, :3], mask[:1, :3])[0], features[0], atol=1e-5)


@pytest.mark.parametrize("arch", ["linear", "mlp", "attention"])
def test_a_regression_mapper_refuses_another_encoder_or_z(arch, z):
    mapper = make(arch, z)
    assert mapper.config.target == TARGET_EMBEDDINGS
    mapper.check_compatible("enc-sha", z.clone())
    with pytest.raises(ValueError, match="trained on the hidden states of 'enc'"):
        mapper.check_compatible("other-sha", z)
    with pytest.raises(ValueError, match="targets the class embeddings of 'gan'; the BigGAN given has different ones"):
        mapper.check_compatible("enc-sha", z + 1e-3)


@pytest.mark.parametrize("arch", ["classifier", "windowed"])
def test_a_classifier_drives_any_biggan_with_the_1000_classes(arch, z):
    """Its output is a distribution over the ImageNet classes: another BigGAN's Z (biggan-deep-256's) serves."""
    mapper = make(arch, z)
    assert mapper.config.target == TARGET_CLASSES
    mapper.check_compatible("enc-sha", torch.randn(1000, 128))
    with pytest.raises(ValueError, match="trained on the hidden states of 'enc'"):
        mapper.check_compatible("other-sha", z)
    with pytest.raises(ValueError, match="reads the 1000 ImageNet classes; the BigGAN given has 10 classes"):
        mapper.check_compatible("enc-sha", z[:10])
    pinned = MapperConfig(arch, 16, "enc", "enc-sha", "gan", tensor_sha256(z), target=TARGET_EMBEDDINGS)
    with pytest.raises(ValueError, match="different ones"):  # a classifier may still be tied to one Z
        Mapper(pinned, z).check_compatible("enc-sha", z + 1e-3)


def test_the_target_is_saved_and_a_config_saved_before_it_loads(z, tmp_path):
    for arch, target in (("windowed", TARGET_CLASSES), ("linear", TARGET_EMBEDDINGS)):
        folder = make(arch, z).save_pretrained(tmp_path / arch)
        config = json.loads((folder / "config.json").read_text())
        assert config["target"] == target
        del config["target"]  # as every mapper saved before this field was
        (folder / "config.json").write_text(json.dumps(config))
        assert Mapper.from_pretrained(folder).config.target == target
    with pytest.raises(ValueError, match="a linear mapper cannot target 'imagenet-classes'"):
        MapperConfig("linear", 16, "e", "e", "g", "z", target=TARGET_CLASSES)


def test_missing_mapper_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        Mapper.from_pretrained(str(tmp_path / "nope"))
    with pytest.raises(OSError, match="someone/not-pushed-yet"):
        Mapper.from_pretrained("someone/not-pushed-yet")
    with pytest.raises(OSError, match=r"^could not load mapper 'someone/not-pushed-yet' at revision 'v1': .*\(\w+\)$"):
        Mapper.from_pretrained("someone/not-pushed-yet", revision="v1")
    with pytest.raises(ValueError, match="unknown mapper architecture"):
        MapperConfig("transformer", 16, "e", "e", "g", "z")


def test_blend_and_readout(z):
    probs = torch.zeros(1, 1000)
    probs[0, 7], probs[0, 9] = 0.7, 0.3
    assert torch.equal(blend(probs, z, 0.0)[0], z[7])
    assert torch.allclose(blend(probs, z, 1.0)[0], 0.7 * z[7] + 0.3 * z[9], atol=1e-5)
    half = blend(probs, z, 0.5)[0]  # 0.7^2 : 0.3^2
    assert torch.allclose(half, (0.49 * z[7] + 0.09 * z[9]) / 0.58, atol=1e-5)
    scores, top = top_classes(z[[3, 5]] * 2.5, z, k=5)
    assert top[:, 0].tolist() == [3, 5] and torch.allclose(scores[:, 0], torch.ones(2))
    with pytest.raises(ValueError, match="blend"):
        blend(probs, z, 1.5)


def test_outside_mixes_the_stand_ins_in_by_its_probability(z, tmp_path):
    """P(class) = P(inside) P(class | inside) + P(outside) P(class | outside), the memory empty."""
    config = MapperConfig("windowed", 16, "enc", "enc-sha", "gan", tensor_sha256(z), outside=True, outside_dim=8)
    mapper = Mapper(config, z).eval()
    hidden, mask = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.long)
    features = mapper.features(hidden, mask)
    inside = mapper.class_logits(hidden, mask).softmax(-1)
    standin = mapper.standin_head(features).softmax(-1)
    assert not torch.allclose(inside, standin, atol=1e-3)
    last = mapper.outside_head.mlp[-1]
    for bias, want in ((30.0, standin), (-30.0, inside)):  # sure it names nothing; sure it names a class
        torch.nn.init.zeros_(last.weight), torch.nn.init.constant_(last.bias, bias)
        reading = mapper.read(hidden, mask)
        assert torch.allclose(reading.probs, want, atol=1e-6) and torch.allclose(reading.outside, torch.full((2,), float(bias > 0)))
    torch.nn.init.constant_(last.bias, 0.0)  # P(outside) = 0.5: halfway
    assert torch.allclose(mapper.read(hidden, mask).probs, (inside + standin) / 2, atol=1e-6)
    loaded = Mapper.from_pretrained(mapper.save_pretrained(tmp_path / "m"))
    assert torch.allclose(loaded.read(hidden, mask).probs, (inside + standin) / 2, atol=1e-3)  # saved in float16 parts


def test_a_folder_saved_by_the_code_before_the_mixin_loads_with_identical_outputs(z, tmp_path):
    """Written by hand as the hand-written save_pretrained wrote it: its config (before `target` and the outside
    head existed) and safetensors with its keys, memory keys in float16, no card."""
    mapper = make("windowed", z)
    for p in mapper.parameters():
        torch.nn.init.normal_(p, std=0.1)
    mapper.config.memory_threshold = -1.0  # a memory that speaks for every text
    rows, distributions = torch.tensor([0, 1, 1, 0]), torch.rand(2, 1000).softmax(-1)
    mapper.memory.store(torch.randn(4, 16), rows, distributions, torch.zeros(4).bool())
    config = {k: v for k, v in asdict(mapper.config).items() if k not in ("target", "outside", "outside_dim")}
    (tmp_path / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    state = {k: v.contiguous() for k, v in mapper.state_dict().items() if k != "memory.outside"}
    state["memory.keys"] = state["memory.keys"].half()
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = Mapper.from_pretrained(tmp_path)
    hidden, mask = torch.randn(3, 6, 16), torch.ones(3, 6, dtype=torch.long)
    assert loaded.config == mapper.config and torch.equal(loaded(hidden, mask), mapper(hidden, mask))
    assert not loaded.memory.outside.any() and not loaded.has_outside


def test_a_hub_mapper_is_downloaded_at_the_revision_cache_and_token_given(z, tmp_path, monkeypatch):
    import huggingface_hub

    mapper = make("windowed", z)
    folder = mapper.save_pretrained(tmp_path / "saved")
    calls = []

    def hf_hub_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename, kwargs))
        return str(folder / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    loaded = Mapper.from_pretrained("me/mapper", revision="0123abc", cache_dir=tmp_path / "cache", token="hf_x")
    hub = {"revision": "0123abc", "cache_dir": tmp_path / "cache", "token": "hf_x", "force_download": False,
           "local_files_only": False}
    assert calls == [("me/mapper", "config.json", hub), ("me/mapper", "model.safetensors", hub)]
    hidden, mask = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.long)
    assert torch.equal(loaded(hidden, mask), mapper(hidden, mask))
    calls.clear()
    Mapper.from_pretrained("me/mapper")
    assert [c[2]["revision"] for c in calls] == [None, None]  # no pin: the Hub's main


def test_a_hub_repo_with_only_a_pickle_is_refused(z, tmp_path, monkeypatch):
    """The mixin's own loader falls back to pytorch_model.bin; this one asks for model.safetensors and nothing else."""
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError

    folder = make("windowed", z).save_pretrained(tmp_path / "saved")
    asked = []

    def hf_hub_download(repo_id, filename, **kwargs):
        asked.append(filename)
        if filename == "model.safetensors":
            raise EntryNotFoundError("only pytorch_model.bin here")
        return str(folder / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    with pytest.raises(OSError, match=r"could not load mapper 'me/mapper'.*\(EntryNotFoundError\)"):
        Mapper.from_pretrained("me/mapper")
    assert asked == ["config.json", "model.safetensors"]


def test_push_to_hub_uploads_config_weights_and_the_generated_card(z, tmp_path, monkeypatch):
    from huggingface_hub import ModelCard, hub_mixin

    uploaded = {}

    class FakeApi:
        def __init__(self, token=None):
            uploaded["token"] = token

        def create_repo(self, repo_id, private=None, exist_ok=False):
            return type("Repo", (), {"repo_id": repo_id})()

        def upload_folder(self, repo_id, folder_path, revision=None, **kwargs):
            uploaded.update(repo=repo_id, branch=revision, files=sorted(p.name for p in Path(folder_path).iterdir()))
            uploaded["card"] = ModelCard.load(Path(folder_path) / "README.md")
            uploaded["loaded"] = Mapper.from_pretrained(folder_path)
            return f"https://huggingface.co/{repo_id}/commit/1"

    monkeypatch.setattr(hub_mixin, "HfApi", FakeApi)
    mapper = make("windowed", z)
    url = mapper.push_to_hub("me/mapper", token="hf_x", branch="candidate",
                             model_card_kwargs={"repo_id": "me/mapper", "dataset": "me/seed-dictionary"})
    assert url == "https://huggingface.co/me/mapper/commit/1" and uploaded["token"] == "hf_x"
    assert (uploaded["repo"], uploaded["branch"]) == ("me/mapper", "candidate")
    assert uploaded["files"] == ["README.md", "config.json", "model.safetensors"]
    data = uploaded["card"].data
    assert data.library_name == "pytorch" and data.datasets == ["me/seed-dictionary"]
    assert {"text2biggan", "pytorch_model_hub_mixin"} <= set(data.tags)
    assert 'from_pretrained("me/mapper")' in uploaded["card"].text
    hidden, mask = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.long)
    assert torch.equal(uploaded["loaded"](hidden, mask), mapper(hidden, mask))
