"""Load the demo's pipeline; when the configured mapper cannot be had from the Hub (not pushed yet, no
network), train the default one locally, once, and cache it, so the demo starts anyway.

The fallback is a real mapper made the way build_dataset.py and train_mapper.py make one (WordNet
sentences -> encoder -> training), checked against the held-out sentences before it is served. Its cache
entry is named after everything that shaped it (encoder weights, BigGAN class embeddings, recipe), so a
later start reuses it only when it would train the very same one.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mapper import device as devices
from mapper.biggans import BigGANs, biggan_names
from mapper.dataset import build_dataset, load_dataset
from mapper.encoder import DEFAULT_ENCODER, TextEncoder
from mapper.fingerprint import tensor_sha256
from mapper.gan import DEFAULT_BIGGAN, HUB_REPOS, Generator
from mapper.models import Mapper
from mapper.pipeline import TextToImagePipeline
from mapper.revisions import Revisions
from mapper.sentences import HELDOUT_TEMPLATE, SENTENCES_VERSION, generate_sentences
from mapper.training import TrainConfig, TrainResult, train

log = logging.getLogger(__name__)
DEFAULT_MAPPER = "text2biggan/mapper-minilm-biggan-deep-128"
MPNET_ENCODER = "sentence-transformers/all-mpnet-base-v2"
# One mapper repo per encoder: a mapper reads the hidden states of the encoder it was trained on.
MAPPER_FOR_ENCODER = {DEFAULT_ENCODER: DEFAULT_MAPPER, MPNET_ENCODER: "text2biggan/mapper-mpnet-biggan-deep-128"}
# With neither configured, by device: on a GPU all-mpnet-base-v2, which reads everyday sentences and definitions a
# little better and the look-alikes by spelling ("a woman": ladybug) not at all, for milliseconds there; on a CPU
# all-MiniLM-L6-v2, 4-5x cheaper per request (docs/report.md#choosing-the-encoder).
DEFAULT_ENCODERS = {"cuda": MPNET_ENCODER, "cpu": DEFAULT_ENCODER}
RECORD_NAME = "fallback.json"  # written inside the entry before it is moved into place


@dataclass
class Recipe:
    """How the fallback mapper is made: the default training, on all classes unless told otherwise."""

    classes: list[int] | None = None  # None: all 1000
    train: TrainConfig = field(default_factory=TrainConfig)
    min_heldout_top1: float = 0.5  # a mapper below this on held-out wordings is broken, not served


@dataclass
class LoadedPipeline:
    pipeline: TextToImagePipeline
    mapper: str  # the mapper that was asked for
    fallback: Path | None = None  # the locally trained mapper served instead, when that one failed


def cache_home() -> Path:
    """$TEXT2BIGGAN_HOME, else $XDG_CACHE_HOME/text2biggan, else ~/.cache/text2biggan."""
    if os.environ.get("TEXT2BIGGAN_HOME"):
        return Path(os.environ["TEXT2BIGGAN_HOME"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "text2biggan"


def default_encoder(device: str) -> str:
    """The encoder for a device ("cuda", "cuda:1", "cpu"...) when none is configured; a CPU's on any but a GPU."""
    return DEFAULT_ENCODERS.get(device.split(":")[0], DEFAULT_ENCODERS["cpu"])


def default_mapper(encoder: str | None, device: str) -> tuple[str, str]:
    """(mapper, encoder) when no mapper is configured: the one published for `encoder` (default: the device's)."""
    encoder = encoder or default_encoder(device)
    if encoder not in MAPPER_FOR_ENCODER:
        known = ", ".join(MAPPER_FOR_ENCODER)
        raise ValueError(f"no published mapper for encoder {encoder!r} (there is one for {known}); name a mapper for it")
    return MAPPER_FOR_ENCODER[encoder], encoder


def load_pipeline(
    mapper: str | None = None,
    biggan: str | Sequence[str] = DEFAULT_BIGGAN,
    encoder: str | None = None,
    device: str | None = None,
    recipe: Recipe | None = None,
    cache: Path | None = None,
    revisions: Revisions = Revisions(),
) -> LoadedPipeline:
    """The pipeline for `mapper` (Hub id or folder; None: default_mapper's). A mapper folder that is not there
    is an error; a Hub mapper that cannot be downloaded is replaced by a fallback trained for this encoder and
    the first BigGAN.
    `biggan`: one or more names or folders (a list, or joined by commas); the first is loaded now and is the
    default, the others when first asked for (all now on a ZeroGPU Space, where only start-up reaches "cuda").
    `revisions`: the commit of each Hub repo to load (default: main)."""
    device = device or devices.default_device()
    if mapper is None:
        mapper, encoder = default_mapper(encoder, device)
    try:
        trained: Mapper | None = Mapper.from_pretrained(mapper, revision=revisions.of("mapper", mapper))
    except FileNotFoundError:
        raise  # a local folder that is missing or incomplete: a mistake to report, not to paper over
    except OSError as err:
        log.warning("%s; serving a fallback mapper trained on this machine instead", err)
        trained = None
    encoder = encoder or (trained.config.encoder if trained else default_encoder(device))
    first, *others = biggan_names(biggan)
    text_encoder = TextEncoder.from_pretrained(encoder, device, revisions.of("encoder", encoder))

    def load_biggan(name: str) -> Generator:
        return Generator.from_pretrained(name, device, revision=revisions.of("biggan", HUB_REPOS.get(name, name)))

    biggans = BigGANs(load_biggan(first), others, load_biggan)
    folder = None
    if trained is None:
        trained, folder = fallback_mapper(text_encoder, biggans.default, recipe or Recipe(), cache or cache_home())
    loaded = LoadedPipeline(TextToImagePipeline(text_encoder, trained, biggans), mapper, folder)
    if devices.spaces is not None:  # on ZeroGPU only start-up may place models on "cuda": load every size now
        for size in biggans.sizes:
            loaded.pipeline.generator_for(size)
    log.info(
        "pipeline ready on %s: mapper %s, encoder %s, BigGAN %s",
        device, folder or mapper, text_encoder.name_or_path, ", ".join(biggans.names.values()),
    )
    return loaded


def entry_name(encoder: TextEncoder, generator: Generator, recipe: Recipe) -> str:
    """`<arch>-<hash>`, the hash covering the encoder's and BigGAN's weights that matter, the recipe and the
    version of the sentences."""
    key = {
        "encoder_sha256": encoder.fingerprint,
        "z_sha256": tensor_sha256(generator.class_embeddings),
        "classes": recipe.classes,
        "train": asdict(recipe.train),
        "sentences_version": SENTENCES_VERSION,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return f"{recipe.train.arch}-{digest}"


def fallback_mapper(encoder: TextEncoder, generator: Generator, recipe: Recipe, cache: Path) -> tuple[Mapper, Path]:
    """The fallback mapper for this encoder and BigGAN and its folder: the cached one, else trained now.

    Staged in a temporary folder beside the entry and moved into place only once it passed its check, so
    an interrupted or failed run leaves nothing that a later start would take for a finished mapper.
    """
    entry = cache / "mappers" / entry_name(encoder, generator, recipe)
    if (entry / RECORD_NAME).is_file():
        try:
            cached = Mapper.from_pretrained(entry)
        except (OSError, RuntimeError, TypeError, KeyError, ValueError) as err:  # older code's, or a file cut short
            log.warning("the cached fallback mapper in %s no longer loads (%s); training it again", entry, err)
            shutil.rmtree(entry)
        else:
            log.info("using the fallback mapper trained at an earlier start: %s", entry)
            return cached, entry
    n_classes = len(recipe.classes) if recipe.classes is not None else 1000
    log.warning("training the fallback mapper once (%d classes); it will be cached in %s", n_classes, entry)
    start = time.perf_counter()
    result = train_fallback(encoder, generator, recipe)
    entry.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{entry.name}.", dir=entry.parent) as staging:
        staged = result.mapper.save_pretrained(Path(staging) / "mapper")
        record = {
            "encoder": encoder.name_or_path,
            "biggan": generator.name_or_path,
            "classes": recipe.classes,
            "train": asdict(recipe.train),
            "metrics": result.metrics,
            "seconds": round(time.perf_counter() - start, 1),
        }
        (staged / RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n")
        try:
            staged.rename(entry)
        except OSError:
            if not (entry / RECORD_NAME).is_file():
                raise
            log.info("another process cached the same fallback mapper first; using that one")
    log.info("fallback mapper ready in %.0f s: %s", time.perf_counter() - start, entry)
    return Mapper.from_pretrained(entry), entry


def train_fallback(encoder: TextEncoder, generator: Generator, recipe: Recipe) -> TrainResult:
    """Build the dataset and train on it, as build_dataset.py and train_mapper.py do; refuse a mapper below
    the recipe's floor. The dataset (hundreds of MB for all classes) goes to the system's temporary folder,
    which the OS clears of whatever a killed run leaves, not to the cache."""
    with tempfile.TemporaryDirectory(prefix="text2biggan-dataset-") as scratch:
        sentences = generate_sentences(recipe.train.seed, recipe.classes)
        log.info("fallback 1/3: %d sentences from WordNet", len(sentences))
        log.info("fallback 2/3: encoding them with %s", encoder.name_or_path)
        z, gan = generator.class_embeddings.cpu(), generator.name_or_path
        dataset = build_dataset(Path(scratch) / "dataset", encoder, z, gan, sentences, recipe.train.seed)
        log.info("fallback 3/3: training the %s mapper", recipe.train.arch)
        result = train(load_dataset(dataset), recipe.train)
    top1 = result.metrics[HELDOUT_TEMPLATE]["top1"]
    if top1 < recipe.min_heldout_top1:
        raise RuntimeError(
            f"the fallback mapper failed its check: top-1 {top1:.2f} on held-out wordings, below "
            f"{recipe.min_heldout_top1:.2f}; not serving it"
        )
    log.info("fallback mapper passed its check: top-1 %.2f on held-out wordings", top1)
    return result
