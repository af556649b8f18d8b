"""The seed dictionary as a `datasets` dataset: written by the build, published with a card, and trained on with
any encoder, its hidden states encoded once and cached."""
import json

import pytest
import torch

datasets = pytest.importorskip("datasets")

import train_mapper  # noqa: E402
from mapper import hub_dataset  # noqa: E402
from mapper.dataset import load_dataset  # noqa: E402
from mapper.models import Mapper  # noqa: E402


@pytest.fixture(scope="module")
def published(small_dataset_dir):
    return small_dataset_dir / hub_dataset.FOLDER


def test_the_build_writes_every_sentence_with_the_four_columns(small_dataset_dir, published):
    hf = datasets.load_from_disk(str(published))
    assert hf.column_names == ["text", "source", "split", "targets"]
    sentences = load_dataset(small_dataset_dir).sentences
    assert len(hf) == len(sentences)
    rows = hf.to_dict()
    assert rows["text"] == [s.text for s in sentences] and rows["split"] == [s.split for s in sentences]
    assert rows["source"] == [s.source for s in sentences]
    assert rows["targets"] == [[{"class_index": c, "weight": w} for c, w in s.targets] for s in sentences]  # exactly
    back = hub_dataset.from_hf(hf)
    assert [(s.text, s.source, s.split, s.targets, s.class_index) for s in back] == [
        (s.text, s.source, s.split, s.targets, s.class_index) for s in sentences
    ]


def test_the_dataset_card_says_what_it_holds_and_its_license(small_dataset_dir, published):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(published / "README.md")
    manifest = load_dataset(small_dataset_dir).manifest
    assert card.data.license == "other" and card.data.license_name == "wordnet-3.0" and card.data.language == ["en"]
    for source, n in manifest["sources"].items():
        assert f"| {source} | {n:,} |" in card.text
    for split, n in manifest["splits"].items():
        assert f"| {split} | {n:,} |" in card.text
    assert f"{manifest['sentences']:,} English sentences" in card.text and "WordNet 3.0 Copyright 2006" in card.text


def run(args, capsys) -> dict:
    assert train_mapper.main([str(a) for a in args]) == 0, capsys.readouterr().err
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    del metrics["seconds"]
    return metrics


def test_training_on_the_dataset_equals_training_on_the_build_folder(
    small_dataset_dir, published, minilm_path, deep128_embeddings, tmp_path, monkeypatch, capsys
):
    """The same sentences, encoded again by the same encoder: the same mapper, to the last bit."""
    common = ["--epochs", "2", "--seed", "0"]
    from_folder = run(["--dataset", small_dataset_dir, "--out", tmp_path / "a", *common], capsys)
    from_hf = ["--dataset", published, "--encoder", minilm_path, "--class-embeddings", deep128_embeddings,
               "--cache", tmp_path / "cache", *common]
    assert run([*from_hf, "--out", tmp_path / "b"], capsys) == from_folder
    assert from_folder["heldout_template"]["top1"] >= 0.85, from_folder  # the small real mapper learned
    a, b = Mapper.from_pretrained(tmp_path / "a"), Mapper.from_pretrained(tmp_path / "b")
    assert all(torch.equal(b.state_dict()[k], v) for k, v in a.state_dict().items())

    (entry,) = (tmp_path / "cache").iterdir()  # the hidden states, in the build folder's format
    assert load_dataset(entry).manifest["encoder"] == minilm_path and load_dataset(entry).manifest["seed"] is None
    monkeypatch.setattr(hub_dataset, "build_dataset", lambda *a: pytest.fail("encoded again instead of the cache"))
    assert run([*from_hf, "--out", tmp_path / "c"], capsys) == from_folder
    assert list((tmp_path / "cache").iterdir()) == [entry]


def test_a_hub_dataset_is_loaded_at_its_revision_and_named_in_the_card(
    published, minilm_path, deep128_embeddings, tmp_path, monkeypatch, capsys
):
    asked = []

    def load_from_hub(name, split, revision):
        asked.append((name, split, revision))
        return datasets.load_from_disk(str(published))

    monkeypatch.setattr(datasets, "load_dataset", load_from_hub)
    args = ["--dataset", "me/seed-dictionary", "--dataset-revision", "0123abc", "--encoder", minilm_path,
            "--class-embeddings", deep128_embeddings, "--cache", tmp_path / "cache", "--arch", "linear",
            "--out", tmp_path / "m"]
    assert run(args, capsys)["heldout_template"]["top1"] > 0.3
    assert asked == [("me/seed-dictionary", "train", "0123abc")]
    card = (tmp_path / "m" / "README.md").read_text()
    assert "datasets:\n- me/seed-dictionary" in card and "(https://huggingface.co/datasets/me/seed-dictionary)" in card


@pytest.mark.parametrize("name, message", [
    ("{tmp}", "is neither a build_dataset.py folder (manifest.json) nor a saved `datasets` dataset"),
    ("{tmp}/nowhere/x", "dataset folder not found"),
    ("someone/not-published-yet", "could not load dataset 'someone/not-published-yet': not a dataset folder"),
])
def test_a_dataset_that_cannot_be_had_is_one_line(name, message, tmp_path, capsys):
    assert train_mapper.main(["--dataset", name.format(tmp=tmp_path), "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_push_uploads_the_card_then_the_dataset(published, monkeypatch):
    import huggingface_hub

    calls = []

    class FakeApi:
        def create_repo(self, repo_id, repo_type, private, exist_ok):
            calls.append(("create", repo_id, repo_type, private))

        def upload_file(self, path_or_fileobj, path_in_repo, repo_id, repo_type, commit_message):
            card = path_or_fileobj.read_text()
            calls.append(("card", repo_id, repo_type, path_in_repo, "# text2biggan seed dictionary" in card))

    def push_to_hub(self, repo_id, commit_message):
        calls.append(("data", repo_id, self.column_names, len(self)))
        return type("Commit", (), {"commit_url": f"https://huggingface.co/datasets/{repo_id}/commit/1"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(datasets.Dataset, "push_to_hub", push_to_hub)
    url = hub_dataset.push_hf_dataset(published, "me/seed-dictionary", private=True)
    assert url == "https://huggingface.co/datasets/me/seed-dictionary/commit/1"
    n = len(datasets.load_from_disk(str(published)))
    assert calls == [
        ("create", "me/seed-dictionary", "dataset", True), ("card", "me/seed-dictionary", "dataset", "README.md", True),
        ("data", "me/seed-dictionary", ["text", "source", "split", "targets"], n),
    ]


def test_the_app_never_imports_datasets():
    import subprocess
    import sys

    code = "import sys, app, mapper.fallback, mapper.pipeline; print('datasets' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
