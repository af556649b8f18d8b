"""Fit a mapper on a dataset folder: seeded, validated on the held-out splits every epoch, early-stopped.

Losses, by head:
  classifier   soft cross-entropy against each sentence's class distribution: an everyday word ("cat")
               spreads its mass over the classes it covers, so the model learns the common sense without
               being forced to pick one breed
  mlp          1 - cosine + MSE against the distribution's mixed class vector: cosine gets the direction
               (which class), MSE the length BigGAN expects
  linear       closed-form ridge regression on the same targets (the reference recipe)

On a dataset with outside words (mapper/outside.py), a classifier is trained on the classes' sentences alone,
so that what it reads of them is what it would read without outside words; then, the classifier fixed, its
pooled features of every training sentence teach the OutsideHead (binary cross-entropy: does the sentence
name nothing among the classes?) and the stand-in head (soft cross-entropy on the outside sentences: the
classes WordNet says stand in, or none in particular).

Classifiers then get a memory of the training sentences (models.ExampleMemory), built from the kept
weights' pooled features; the reported metrics are with it, the per-epoch history without it.

A classifier starts as retrieval in the encoder's space, which reads unseen definitions best, and training
trades that for new wordings. What it keeps is start + `interpolation` x (trained - start), weight by
weight (WiSE-FT, Wortsman et al. 2022), and each epoch is validated and early-stopped as kept.
"""
from __future__ import annotations

import copy
import logging
import random
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from mapper.dataset import Dataset
from mapper.evaluate import accuracy
from mapper.models import ARCHITECTURES, DEFAULT_ARCH, OUTSIDE_THRESHOLD, Mapper, MapperConfig, top_classes
from mapper.sentences import HELDOUT_GLOSS, HELDOUT_OUTSIDE, HELDOUT_TEMPLATE, TRAIN

log = logging.getLogger(__name__)
EVAL_SPLITS = (HELDOUT_TEMPLATE, HELDOUT_GLOSS)  # scored on their classes
OUTSIDE_SPLITS = (*EVAL_SPLITS, HELDOUT_OUTSIDE)  # and how often each is read as outside
DEFINITION_SOURCES = ("gloss", "family")  # sentences that define a thing rather than name it
# How far each classifier's kept weights go from its start. `windowed` moves furthest from retrieval (its
# pooling learns to single out one word), so it keeps less of the way (README, "Keeping part of training").
INTERPOLATION = {"windowed": 0.6}
DEFAULT_INTERPOLATION = 0.8
# fit_outside: heads only, on cached features; as many steps on any dataset (about 25 epochs of the full build).
# Refit on the v4 build: 2000 steps flagged 0.822 of the held-out outside words, 4000 0.830, 8000 0.888 but
# then natural sentences too (4 of dev_natural's 38, against 0 at 4000).
OUTSIDE_STEPS, OUTSIDE_BATCH, OUTSIDE_LR = 4000, 256, 1e-3


@dataclass
class TrainConfig:
    arch: str = DEFAULT_ARCH
    epochs: int = 12
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    patience: int = 3
    ridge: float = 1.0
    interpolation: float | None = None  # classifiers: how far from their start the kept weights go (1: all
    # the way); None: the architecture's own (INTERPOLATION, else DEFAULT_INTERPOLATION)
    seed: int = 0
    sources: tuple[str, ...] | None = None  # train only on sentences from these sources (ablations)


@dataclass
class TrainResult:
    mapper: Mapper
    metrics: dict[str, dict[str, float]]  # split -> {"top1": ..., "top5": ...} of the kept epoch
    epochs_run: int
    best_epoch: int
    seconds: float
    history: list[dict] = field(default_factory=list)


@torch.inference_mode()
def map_indices(mapper: Mapper, dataset: Dataset, indices: list[int], batch_size: int = 512) -> torch.Tensor:
    mapper.eval()
    out = [mapper(*dataset.batch(indices[i : i + batch_size])) for i in range(0, len(indices), batch_size)]
    return torch.cat(out)


@torch.inference_mode()
def outside_probabilities(mapper: Mapper, dataset: Dataset, indices: list[int], batch_size: int = 512) -> torch.Tensor:
    mapper.eval()
    return torch.cat([mapper.read(*dataset.batch(indices[i : i + batch_size])).outside for i in range(0, len(indices), batch_size)])


def evaluate_splits(mapper: Mapper, dataset: Dataset, outside: bool = True) -> dict[str, dict[str, float]]:
    """Top-1 / top-5 on the held-out splits; with an outside head, also the share of each read as outside
    ("flagged": wrongly on the classes' splits, rightly on the outside one)."""
    metrics = {}
    for split in EVAL_SPLITS:
        indices = dataset.split_indices(split)
        if indices:
            labels = [{c for c, _ in dataset.sentences[i].targets} for i in indices]
            _, top = top_classes(map_indices(mapper, dataset, indices), dataset.class_embeddings, k=5)
            metrics[split] = accuracy(top, labels)
    if outside and mapper.has_outside:
        for split in OUTSIDE_SPLITS:
            if indices := dataset.split_indices(split):
                flagged = (outside_probabilities(mapper, dataset, indices) > OUTSIDE_THRESHOLD).float().mean()
                metrics.setdefault(split, {})["flagged"] = round(float(flagged), 4)
    return metrics


def selection_score(metrics: dict[str, dict[str, float]]) -> float:
    return sum(m["top1"] for m in metrics.values()) / max(len(metrics), 1)


def mapper_config(dataset: Dataset, arch: str, outside: bool | None = None) -> MapperConfig:
    """outside: whether the mapper gets outside heads (default: a classifier on a dataset with outside words)."""
    m = dataset.manifest
    outside = ARCHITECTURES[arch][1] == "classifier" and (dataset.has_outside if outside is None else outside)
    return MapperConfig(arch, m["hidden_size"], m["encoder"], m["encoder_sha256"], m["gan"], m["z_sha256"], outside=outside)


@torch.inference_mode()
def pooled_features(mapper: Mapper, dataset: Dataset, indices: list[int], batch_size: int = 1024) -> torch.Tensor:
    """(len(indices), hidden): the text representation the mapper's head reads, for these sentences."""
    return torch.cat([mapper.features(*dataset.batch(indices[i : i + batch_size])) for i in range(0, len(indices), batch_size)])


def fit_ridge(mapper: Mapper, dataset: Dataset, indices: list[int], alpha: float) -> None:
    """Least squares with an L2 penalty, on pooled features with a bias column."""
    x = pooled_features(mapper, dataset, indices)
    y = dataset.target_distribution(indices) @ dataset.class_embeddings
    x = torch.cat([x, torch.ones(len(x), 1)], dim=1).double()
    w = torch.linalg.solve(x.T @ x + alpha * torch.eye(x.shape[1], dtype=x.dtype), x.T @ y.double())
    mapper.head.weight.data.copy_(w[:-1].T.float())
    mapper.head.bias.data.copy_(w[-1].float())


def description_indices(dataset: Dataset, indices: list[int]) -> list[int]:
    """The sentences the classifier starts from: each class's descriptions ("tabby cat, a kind of domestic
    cat"), or, in a dataset or ablation without them, all `indices`.

    Started from the mean of all its training sentences, a class whose definition is held out starts far
    from definitions, since its mean holds none while the other classes' means do; a description is built
    the same way for every class and the encoder already puts definitions near it (retrieval with these
    alone gets 0.657 of held-out definitions right, with the means 0.470: bench/mapper_quality.py).
    """
    return [i for i in indices if dataset.sentences[i].source == "description"] or indices


@torch.inference_mode()
def class_mean_features(mapper: Mapper, dataset: Dataset, indices: list[int]) -> torch.Tensor:
    """(1000, hidden) target-weighted mean of each class's normalised sentence features."""
    x = pooled_features(mapper, dataset, indices)
    return F.normalize(dataset.target_distribution(indices).T @ F.normalize(x, dim=-1), dim=-1)


def build_memory(mapper: Mapper, dataset: Dataset, indices: list[int], keys: torch.Tensor) -> None:
    """Store every sentence of `indices` in the mapper's memory: its pooled features (`keys`), its class
    distribution."""
    row_of: dict = {}  # sentences with the same distribution share a row of the table
    rows = [row_of.setdefault(dataset.sentences[i].targets, len(row_of)) for i in indices]
    one_per_row = dict(zip(rows, indices))
    table = dataset.target_distribution([one_per_row[row] for row in range(len(row_of))])
    definitions = torch.tensor([dataset.sentences[i].source in DEFINITION_SOURCES for i in indices])
    mapper.memory.store(keys, torch.tensor(rows), table, definitions, dataset.outside_flags(indices).bool())


def interpolate(start: dict[str, torch.Tensor], trained: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    return {k: torch.lerp(start[k], v, alpha) if v.is_floating_point() else v for k, v in trained.items()}


def fit_outside(mapper: Mapper, dataset: Dataset, indices: list[int], features: torch.Tensor, seed: int) -> None:
    """Fit the outside and stand-in heads on the fixed classifier's pooled `features` of `indices`: only the
    heads train, on features computed once."""
    features = features.clone()  # out of inference mode: the heads learn on it
    flags = dataset.outside_flags(indices)
    outside = [i for i, flag in zip(indices, flags.tolist()) if flag]
    outside_features, standins = features[flags.bool()], dataset.target_distribution(outside)
    mapper.standin_head.prototypes.data.copy_(mapper.head.prototypes.data)  # start from the classes' own
    heads = [*mapper.outside_head.parameters(), *mapper.standin_head.parameters()]
    optimizer = torch.optim.AdamW(heads, lr=OUTSIDE_LR, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    mapper.train()
    for _ in range(OUTSIDE_STEPS):
        batch = torch.randint(len(features), (OUTSIDE_BATCH,), generator=generator)
        drawn = torch.randint(len(outside_features), (OUTSIDE_BATCH,), generator=generator)
        loss = F.binary_cross_entropy_with_logits(mapper.outside_head(features[batch]), flags[batch])
        loss = loss - (standins[drawn] * mapper.standin_head(outside_features[drawn]).log_softmax(-1)).sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    mapper.eval()


def loss_fn(mapper: Mapper, hidden: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if mapper.is_classifier:
        return -(targets * mapper.class_logits(hidden, mask).log_softmax(-1)).sum(-1).mean()
    out = mapper(hidden, mask)
    wanted = targets @ mapper.class_embeddings
    return (1 - F.cosine_similarity(out, wanted)).mean() + F.mse_loss(out, wanted)


def one_cycle(optimizer: torch.optim.Optimizer, lr: float, steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """OneCycleLR with a warm-up of at least two steps: it divides by zero when pct_start * total_steps is 1
    (a 10-step run); a run too short for a cycle keeps `lr`."""
    if steps < 4:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=max(0.1, 2 / steps))


def train(dataset: Dataset, config: TrainConfig, progress: bool = True) -> TrainResult:
    if config.arch not in ARCHITECTURES:
        raise ValueError(f"unknown mapper architecture {config.arch!r}: choose from {sorted(ARCHITECTURES)}")
    interpolation = INTERPOLATION.get(config.arch, DEFAULT_INTERPOLATION) if config.interpolation is None else config.interpolation
    if not 0 <= interpolation <= 1:
        raise ValueError(f"interpolation must be in [0, 1] (0 keeps the start, 1 the trained weights), got {interpolation}")
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    start = time.perf_counter()
    every_train = dataset.split_indices(TRAIN)
    if config.sources is not None:
        every_train = [i for i in every_train if dataset.sentences[i].source in config.sources]
    outside = any(dataset.sentences[i].outside for i in every_train)
    mapper = Mapper(mapper_config(dataset, config.arch, outside), dataset.class_embeddings)
    train_indices = [i for i in every_train if not dataset.sentences[i].outside]  # the classes' sentences

    if config.arch == "linear":
        fit_ridge(mapper, dataset, train_indices, config.ridge)
        metrics = evaluate_splits(mapper, dataset)
        return TrainResult(mapper.eval(), metrics, 1, 1, time.perf_counter() - start, [{"epoch": 1, **metrics}])

    alpha = 1.0
    if mapper.is_classifier:  # both start as retrieval in the encoder's space; only the prototypes learn
        means = class_mean_features(mapper, dataset, description_indices(dataset, train_indices))
        mapper.head.prototypes.data.copy_(means)
        mapper.prior_prototypes.copy_(means)
        alpha = interpolation
    start_state = copy.deepcopy(mapper.state_dict())
    optimizer = torch.optim.AdamW(mapper.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * -(-len(train_indices) // config.batch_size)
    schedule = one_cycle(optimizer, config.lr, steps)
    best_score, best_state, best_epoch, history = -1.0, None, 0, []
    bar = tqdm(range(1, config.epochs + 1), desc=f"training {config.arch}", unit="epoch", disable=not progress)
    for epoch in bar:
        mapper.train()
        rng.shuffle(train_indices)
        total = 0.0
        for i in range(0, len(train_indices), config.batch_size):
            batch = train_indices[i : i + config.batch_size]
            loss = loss_fn(mapper, *dataset.batch(batch), dataset.target_distribution(batch))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        trained_state = copy.deepcopy(mapper.state_dict())
        kept_state = interpolate(start_state, trained_state, alpha)
        mapper.load_state_dict(kept_state)
        metrics = evaluate_splits(mapper, dataset, outside=False)
        mapper.load_state_dict(trained_state)
        score = selection_score(metrics)
        history.append({"epoch": epoch, "loss": round(total / len(train_indices), 4), **metrics})
        bar.set_postfix(loss=history[-1]["loss"], **{k: v.get("top1", v.get("flagged")) for k, v in metrics.items()})
        log.info("epoch %d %s", epoch, history[-1])
        if score > best_score:
            best_score, best_state, best_epoch = score, kept_state, epoch
        elif epoch - best_epoch >= config.patience:
            break
    mapper.load_state_dict(best_state)
    if mapper.is_classifier:
        features = pooled_features(mapper.eval(), dataset, every_train)  # in dataset order; the pooling is fixed now
        if mapper.has_outside:
            fit_outside(mapper, dataset, every_train, features, config.seed)
        build_memory(mapper, dataset, every_train, features)
        metrics = evaluate_splits(mapper, dataset)
    else:
        metrics = {k: v for k, v in history[best_epoch - 1].items() if k in OUTSIDE_SPLITS}
    return TrainResult(mapper.eval(), metrics, len(history), best_epoch, time.perf_counter() - start, history)
