"""The seed dictionary as a Hugging Face `datasets` dataset: the sentences and their class targets, which anyone can
encode with their own encoder; the per-token hidden states stay a local cache (mapper/dataset.py's folder).

Columns:
  text     the sentence
  source   how it was made (name, scene, hypernym, description, hyponym, gloss, family, everyday, outside)
  split    train, heldout_template, heldout_gloss or heldout_outside
  targets  the class distribution it stands for: a list of {class_index: ImageNet index 0-999, weight}, weights
           summing to 1; empty for a word naming nothing in particular (uniform)
Only build_dataset.py and train_mapper.py import this module (the app never needs `datasets`).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

import torch
from huggingface_hub import DatasetCard, DatasetCardData

from mapper.dataset import MANIFEST, build_dataset
from mapper.encoder import TextEncoder
from mapper.fingerprint import tensor_sha256
from mapper.revisions import is_hub_id
from mapper.sentences import SENTENCES_VERSION, Sentence

try:
    import datasets
except ImportError as err:  # in requirements-dev.txt, not in the app's requirements.txt
    raise ImportError(f"the seed dictionary needs `datasets` ({err}): pip install -r requirements-dev.txt") from None

log = logging.getLogger(__name__)
FOLDER = "hf_dataset"  # beside the build folder's files
COLUMNS = ("text", "source", "split", "targets")
FEATURES = datasets.Features({
    "text": datasets.Value("string"),
    "source": datasets.Value("string"),
    "split": datasets.Value("string"),
    "targets": datasets.List({"class_index": datasets.Value("int32"), "weight": datasets.Value("float64")}),
})  # float64 weights: a sentence read back is the one written, so training on it is training on the same data
WORDNET_LICENSE = "https://wordnet.princeton.edu/license-and-commercial-use"


def to_hf(sentences: list[Sentence]) -> datasets.Dataset:
    """The sentences in their order, as the four columns."""
    return datasets.Dataset.from_dict({
        "text": [s.text for s in sentences],
        "source": [s.source for s in sentences],
        "split": [s.split for s in sentences],
        "targets": [[{"class_index": c, "weight": w} for c, w in s.targets] for s in sentences],
    }, features=FEATURES)


def from_hf(dataset: datasets.Dataset) -> list[Sentence]:
    """Sentences back from the columns. What training never reads is not published: `class_index` is the top
    target's (-1 for none), `wnid` and `template` are empty."""
    if missing := [c for c in COLUMNS if c not in dataset.column_names]:
        raise ValueError(f"the dataset lacks the column(s) {', '.join(missing)}: not a text2biggan seed dictionary")
    sentences = []
    for row in dataset.select_columns(list(COLUMNS)):
        targets = tuple((t["class_index"], t["weight"]) for t in row["targets"])
        top = max(targets, key=lambda t: t[1])[0] if targets else -1
        sentences.append(Sentence(row["text"], top, "", row["source"], "", row["split"], targets))
    return sentences


def size_category(n: int) -> str:
    return "n<1K" if n < 1_000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000 else "100K<n<1M"


def dataset_card(sentences: list[Sentence], seed: int, classes: list[int] | None) -> DatasetCard:
    """README.md of the dataset: what each column holds, counts by source and split, how it was made, WordNet's
    license."""
    data = DatasetCardData(
        language=["en"], license="other", license_name="wordnet-3.0", license_link=WORDNET_LICENSE,
        pretty_name="text2biggan seed dictionary", size_categories=[size_category(len(sentences))],
        task_categories=["text-classification"], tags=["imagenet", "wordnet", "biggan", "text2biggan"],
    )
    covered = len({c for s in sentences for c, _ in s.targets})
    table = "\n".join(f"| {source} | {n:,} |" for source, n in Counter(s.source for s in sentences).most_common())
    splits = "\n".join(f"| {split} | {n:,} |" for split, n in Counter(s.split for s in sentences).most_common())
    subset = "all 1000 ImageNet classes" if classes is None else f"{len(classes)} ImageNet classes (a subset build)"
    return DatasetCard(f"""---
{data.to_yaml()}
---
# text2biggan seed dictionary

{len(sentences):,} English sentences about {subset}, {covered} classes reached by their targets, each with
the distribution over ImageNet classes it stands for: the training data of text2biggan's mappers (text -> encoder
hidden states -> mapper -> BigGAN class vector). Generated from WordNet 3.0, not written by people.

## Columns
- `text`: the sentence.
- `source`: how it was made from WordNet (below).
- `split`: `train`, `heldout_template` (templates never trained on), `heldout_gloss` (the definitions of classes
  whose definition is never trained on) or `heldout_outside` (words naming nothing ImageNet has, held out whole).
  The Hub's only split holds every row; this column is the split.
- `targets`: a list of `{{class_index, weight}}`, ImageNet class indices (0-999, the standard order BigGAN uses)
  and weights summing to 1; empty for an outside word with no stand-in (no class in particular).

| source | sentences |
|---|---|
{table}

| split | sentences |
|---|---|
{splits}

Sources: `name` (a lemma of the class in a caption, first-person or descriptive template), `scene` (the lemma as
the subject beside other objects or in a place), `hypernym` (the lemma placed by its kind), `description` (lemma
and nearest hypernym alone), `hyponym` (a kind of the class ImageNet does not list), `gloss` (the class's WordNet
definition), `family` (the definition of an ancestor, spread over the classes below it), `everyday` (a common word
such as "cat", weighted towards the common sense) and `outside` (a word naming nothing ImageNet has, its target the
classes that stand in for it).

## How it was made
`python build_dataset.py --out data/full` in the text2biggan repository (`mapper/sentences.py`, sentences version
{SENTENCES_VERSION}, seed {seed}): deterministic given the seed. Train a mapper for any encoder on it with
`python train_mapper.py --dataset <this dataset> --encoder <encoder> --out <folder>`, which encodes it once and
caches the hidden states locally.

## License
Built from [WordNet 3.0]({WORDNET_LICENSE}) (Princeton University), whose license allows use, copying and
distribution with its copyright notice: "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved."
The ImageNet class indices are labels only; no image is included.
""")


def save_hf_dataset(folder: Path, sentences: list[Sentence], seed: int, classes: list[int] | None) -> Path:
    """`datasets.load_from_disk(folder)` reads it back; its card is folder/README.md."""
    to_hf(sentences).save_to_disk(str(folder))
    dataset_card(sentences, seed, classes).save(folder / "README.md")
    return folder


def push_hf_dataset(folder: Path, repo_id: str, private: bool) -> str:
    """Upload the saved dataset as parquet with its card; the card goes first, so that push_to_hub keeps its text
    and adds the dataset's metadata to it."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_file(path_or_fileobj=folder / "README.md", path_in_repo="README.md", repo_id=repo_id,
                    repo_type="dataset", commit_message="Dataset card")
    dataset = datasets.load_from_disk(str(folder))
    return dataset.push_to_hub(repo_id, commit_message="Upload the seed dictionary").commit_url


def load_hf(name: str, revision: str | None = None) -> datasets.Dataset:
    """A dataset saved by save_hf_dataset (a folder), or a Hub dataset id (at `revision`)."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        try:
            return datasets.load_from_disk(str(folder))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"dataset folder {folder} is neither a build_dataset.py folder (manifest.json) nor a saved `datasets` "
                "dataset (dataset_info.json, state.json)"
            ) from None
    if not is_hub_id(name):
        raise FileNotFoundError(f"dataset folder not found: {name}")
    try:
        return datasets.load_dataset(name, split="train", revision=revision)
    except Exception as err:  # noqa: BLE001 - every Hub failure gets the same advice
        raise OSError(
            f"could not load dataset {name!r}: not a dataset folder, and not downloadable from the Hub "
            f"({err.__class__.__name__})"
        ) from None


def content_sha256(sentences: list[Sentence]) -> str:
    rows = [[s.text, s.source, s.split, s.targets] for s in sentences]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def encoded(
    sentences: list[Sentence], encoder: TextEncoder, class_embeddings: torch.Tensor, gan: str, cache: Path
) -> Path:
    """A build folder (mapper/dataset.py) of `sentences` encoded by `encoder`, cached under `cache` by what it holds:
    the sentences, the encoder's weights and Z. Made once; a later call with the same three reuses it."""
    key = json.dumps([content_sha256(sentences), encoder.fingerprint, tensor_sha256(class_embeddings)])
    entry = Path(cache) / hashlib.sha256(key.encode()).hexdigest()[:16]
    if (entry / MANIFEST).is_file():
        log.info("hidden states by %s: cached in %s", encoder.name_or_path, entry)
        return entry
    log.info("encoding %d sentences with %s into %s", len(sentences), encoder.name_or_path, entry)
    return build_dataset(entry, encoder, class_embeddings, gan, sentences, seed=None)
