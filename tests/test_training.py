import json

import pytest
import torch

import train_mapper
from mapper import evaluate
from mapper.card import model_card
from mapper.dataset import load_dataset
from mapper.models import DEFAULT_ARCH, Mapper
from mapper.training import (
    TrainConfig,
    class_mean_features,
    description_indices,
    evaluate_splits,
    interpolate,
    one_cycle,
    train,
)


@pytest.mark.parametrize("steps", range(1, 31))
def test_the_schedule_warms_up_and_ends_low_at_any_length(steps):
    """OneCycleLR with pct_start 0.1 divided by zero at exactly 10 steps (a small ablation hit it)."""
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    schedule, rates = one_cycle(optimizer, 1e-3, steps), []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert max(rates) <= 1e-3 + 1e-12
    assert rates[0] < 1e-3 and rates[-1] < 1e-4 if steps >= 4 else rates == [1e-3] * steps  # too short for a cycle


def test_short_real_training_learns(small_mapper_dir, small_dataset_dir):
    mapper = Mapper.from_pretrained(small_mapper_dir)
    mapper.config.memory_weight = 0.0  # what was learned, without the recall of training sentences
    metrics = evaluate_splits(mapper, load_dataset(small_dataset_dir))
    # Chance is 1 in 50 classes and retrieval alone (the untrained start) gets 0.80; six epochs keep
    # 0.89, give or take 0.02 between CPUs (float rounding differs), so the bar sits between the two.
    assert metrics["heldout_template"]["top1"] >= 0.85, metrics
    assert metrics["heldout_gloss"]["top1"] >= 0.75, metrics
    assert mapper.config.arch == DEFAULT_ARCH


def test_training_stores_every_training_sentence_in_memory(small_mapper_dir, small_dataset_dir):
    ds = load_dataset(small_dataset_dir)
    mapper = Mapper.from_pretrained(small_mapper_dir)
    train_indices = ds.split_indices("train")
    assert len(mapper.memory) == len(train_indices)
    with torch.inference_mode():
        features = torch.nn.functional.normalize(mapper.features(*ds.batch(train_indices[:50])), dim=-1)
    assert (features @ mapper.memory.keys.T).max(-1).values.min() > 0.999  # each one finds itself
    recalled = mapper.memory.distributions[mapper.memory.rows[:50]]
    assert torch.allclose(recalled, ds.target_distribution(train_indices[:50]))
    sources = [ds.sentences[i].source for i in train_indices]
    assert mapper.memory.definitions.tolist() == [s in ("gloss", "family") for s in sources]
    assert 0 < sum(mapper.memory.definitions.tolist()) < len(sources)


def test_model_card_states_the_memory(small_mapper_dir, small_dataset_dir):
    ds = load_dataset(small_dataset_dir)
    info = {"seconds": 1.0, "best_epoch": 1, "epochs_run": 1}
    card = model_card(Mapper.from_pretrained(small_mapper_dir), "me/mapper", {}, ds.manifest, info)
    assert f"a memory of its {len(ds.split_indices('train')):,} training sentences" in card


def test_training_is_seeded(small_dataset_dir):
    ds = load_dataset(small_dataset_dir)
    a = train(ds, TrainConfig(arch="mlp", epochs=1, seed=1), progress=False)
    b = train(ds, TrainConfig(arch="mlp", epochs=1, seed=1), progress=False)
    assert a.metrics == b.metrics and a.history == b.history


def test_classifier_starts_from_class_descriptions(small_mapper_dir, small_dataset_dir):
    ds = load_dataset(small_dataset_dir)
    mapper = Mapper.from_pretrained(small_mapper_dir)
    train_indices = ds.split_indices("train")
    chosen = description_indices(ds, train_indices)
    assert chosen and {ds.sentences[i].source for i in chosen} == {"description"}
    untrained = Mapper(mapper.config, ds.class_embeddings)  # attention pooling starts as mean pooling
    starts = class_mean_features(untrained, ds, chosen)
    assert torch.allclose(mapper.prior_prototypes, starts)
    assert not torch.allclose(mapper.prior_prototypes, class_mean_features(untrained, ds, train_indices), atol=0.05)
    names_only = [i for i in train_indices if ds.sentences[i].source == "name"]
    assert description_indices(ds, names_only) == names_only  # an ablation without descriptions


def test_interpolate_weights():
    start = {"w": torch.zeros(3), "steps": torch.tensor(0)}
    trained = {"w": torch.tensor([1.0, -2.0, 4.0]), "steps": torch.tensor(7)}
    assert torch.equal(interpolate(start, trained, 0.0)["w"], start["w"])
    assert torch.equal(interpolate(start, trained, 1.0)["w"], trained["w"])
    assert torch.allclose(interpolate(start, trained, 0.8)["w"], torch.tensor([0.8, -1.6, 3.2]))
    assert interpolate(start, trained, 0.5)["steps"] == 7  # counters are not weights


def test_classifier_keeps_interpolated_weights(small_dataset_dir):
    ds = load_dataset(small_dataset_dir)
    start = train(ds, TrainConfig(arch="adapter", epochs=1, interpolation=0.0), progress=False).mapper
    assert torch.equal(start.head.prototypes, start.prior_prototypes)  # still retrieval: nothing kept
    assert not start.pool.mlp[-1].weight.any()  # nor the adapter's residual MLP
    full = train(ds, TrainConfig(arch="adapter", epochs=1, interpolation=1.0), progress=False).mapper
    half = train(ds, TrainConfig(arch="adapter", epochs=1, interpolation=0.5), progress=False).mapper
    assert torch.allclose(half.head.prototypes, (start.head.prototypes + full.head.prototypes) / 2, atol=1e-6)
    assert not torch.allclose(full.head.prototypes, start.head.prototypes, atol=1e-3)
    with pytest.raises(ValueError, match="interpolation must be in"):
        train(ds, TrainConfig(interpolation=1.5), progress=False)


def test_evaluate_prints_json_last_line(small_mapper_dir, minilm_path, tmp_path, capsys):
    items = [
        {"text": "My tabby cat is asleep on the sofa.", "labels": [281, 282, 283, 284, 285]},
        {"text": "We took a cab to the station.", "labels": [468]},
        {"text": "Something that is surely not a sports car.", "labels": [0]},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    assert evaluate.main([str(small_mapper_dir), str(path), "--encoder", minilm_path, "--verbose"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("ok")
    result = json.loads(lines[-1])
    assert result["n"] == 3 and result["top1"] >= 2 / 3 - 1e-9 and result["top5"] >= result["top1"]


def test_push_without_token_fails_before_training(small_dataset_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no saved login either
    monkeypatch.setattr("mapper.training.train", lambda *a, **k: pytest.fail("trained before checking the Hub"))
    args = ["--dataset", str(small_dataset_dir), "--out", str(tmp_path / "m"), "--push-to-hub", "me/mapper"]
    assert train_mapper.main(args) == 1
    assert "no Hugging Face token" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_push_uploads_weights_config_and_card(small_dataset_dir, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    uploaded = {}

    class FakeApi:
        def whoami(self, token=None):
            return {"name": "me"}

        def create_repo(self, repo_id, private=False, exist_ok=False):
            uploaded["private"] = private

        def upload_folder(self, folder_path, repo_id, commit_message):
            uploaded["files"] = sorted(p.name for p in folder_path.iterdir())
            uploaded["card"] = (folder_path / "README.md").read_text()
            return type("Commit", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/1"})()

    monkeypatch.setenv("HF_TOKEN", "hf_fake")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    out = tmp_path / "m"
    args = ["--dataset", str(small_dataset_dir), "--out", str(out), "--arch", "linear", "--push-to-hub", "me/mapper", "--private"]
    assert train_mapper.main(args) == 0
    assert uploaded["files"] == ["README.md", "config.json", "metrics.json", "model.safetensors"]
    assert uploaded["private"] is True
    assert "| heldout_template |" in uploaded["card"] and 'from_pretrained("me/mapper")' in uploaded["card"]
    assert "pushed: https://huggingface.co/me/mapper/commit/1" in capsys.readouterr().out


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_mapper.main(["--help"])
    assert exit_info.value.code == 0 and "--push-to-hub" in capsys.readouterr().out
