"""The mapper's model card (README.md on the Hub), generated from what training measured.

Every saved mapper gets one (Mapper.save_pretrained writes it through huggingface_hub's mixin); the results and
training-data sections appear when training passes what it measured.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from huggingface_hub import ModelCard, ModelCardData

from mapper.revisions import is_hub_id

if TYPE_CHECKING:
    from mapper.models import Mapper

USAGE = '''```python
from mapper.pipeline import TextToImagePipeline

pipe = TextToImagePipeline.from_pretrained("{repo}")
out = pipe("I love my cat", truncation=0.4, seed=0)
out.images[0].save("cat.png"); print(out.classes[:3])
```'''
MANIFEST_KEYS = ("encoder", "gan", "z_sha256", "seed", "sentences", "per_class", "splits", "sources")


def metrics_table(metrics: dict[str, dict[str, float]]) -> str:
    def cell(m: dict[str, float], key: str) -> str:
        return f"{m[key]:.3f}" if key in m else ""

    keys = ("top1", "top5", "flagged")
    rows = "\n".join(f"| {split} | " + " | ".join(cell(m, k) for k in keys) + " |" for split, m in metrics.items())
    return "| evaluation set | top-1 | top-5 | read as outside ImageNet |\n|---|---|---|---|\n" + rows


def memory_note(mapper: Mapper) -> str:
    if not mapper.is_classifier or not len(mapper.memory):
        return ""
    c = mapper.config
    return (
        f" and a memory of its {len(mapper.memory):,} training sentences (consulted within cosine "
        f"{c.memory_threshold}, {c.memory_definition_threshold} for definitions)"
    )


def outside_note(mapper: Mapper) -> str:
    return ", and is flagged as outside ImageNet (trained on WordNet nouns no class covers)" if mapper.has_outside else ""


def card_data(mapper: Mapper, dataset: str | None, measured: bool) -> ModelCardData:
    """The card's metadata: the mixin's library name and tags, the encoder it reads, the dataset it learned."""
    data = ModelCardData(**mapper._hub_mixin_info.model_card_data.to_dict())
    if is_hub_id(mapper.config.encoder):
        data.base_model = mapper.config.encoder
    if dataset and is_hub_id(dataset):
        data.datasets = [dataset]
    if measured:
        data.metrics = ["accuracy"]
    return data


def results(mapper: Mapper, metrics: dict, train_info: dict) -> str:
    return f"""
## Results
Top-1: the nearest ImageNet class (cosine) of the output vector is a right one.

{metrics_table(metrics)}

Architecture `{mapper.config.arch}`, {mapper.num_parameters():,} parameters{memory_note(mapper)}; trained in
{train_info['seconds']:.0f} s on a 2-core CPU, best epoch {train_info['best_epoch']} of {train_info['epochs_run']}.
"""


def training_data(manifest: dict, dataset: str | None) -> str:
    linked = dataset and is_hub_id(dataset)
    where = f" (the dataset [`{dataset}`](https://huggingface.co/datasets/{dataset}))" if linked else ""
    return f"""
## Training data
{manifest['sentences']:,} sentences generated from WordNet for all {manifest['classes_covered']} ImageNet
classes{where} (lemmas, hypernyms, glosses, scenes with other objects, everyday words), split so whole templates
and the glosses of some classes are held out. Manifest:

```json
{json.dumps({k: manifest[k] for k in MANIFEST_KEYS if k in manifest}, indent=2)}
```
"""


def model_card(
    mapper: Mapper,
    repo_id: str | None = None,
    metrics: dict | None = None,
    manifest: dict | None = None,
    train_info: dict | None = None,
    dataset: str | None = None,
) -> str:
    """The card for `mapper` as published at `repo_id`; `metrics` with `train_info`, and `manifest` (with `dataset`,
    the Hub dataset it was trained on) add what training measured and what it learned from."""
    c = mapper.config
    measured = metrics is not None and train_info is not None
    return f"""---
{card_data(mapper, dataset, measured).to_yaml()}
---
# text2biggan mapper ({c.arch})

Maps the hidden states of `{c.encoder}` for one text to a 128-d BigGAN class vector for `{c.gan}`:
the learned middle of the text2biggan demo (text -> encoder -> **mapper** -> BigGAN -> image).

## Use
{USAGE.format(repo=repo_id or "path/to/this-mapper")}

`Mapper.from_pretrained(repo, revision=...)` loads it pinned to a commit. Weights are safetensors with a JSON
config; the config records the encoder (sha256 of its token embeddings `{c.encoder_sha256[:12]}...`) and the BigGAN
class embeddings (sha256 `{c.z_sha256[:12]}...`), and loading refuses any other pair.
{results(mapper, metrics, train_info) if measured else ""}{training_data(manifest, dataset) if manifest else ""}
## Intended use and limitations
For a fun demo: one of ImageNet's 1000 classes (or a blend) from a sentence. It draws nothing outside those
classes: a sentence about a thing ImageNet lacks gets the nearest classes it has{outside_note(mapper)}. It picks one subject;
compositions ("a cat riding a horse") come out as one of the two, or a hybrid. Inherits the biases of WordNet,
ImageNet and the encoder.
"""


def generate(mapper: Mapper, **card_kwargs) -> ModelCard:
    """What the mixin's save_pretrained and push_to_hub write as README.md (`card_kwargs`: model_card's)."""
    return ModelCard(model_card(mapper, **card_kwargs))
