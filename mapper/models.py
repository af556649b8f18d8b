"""Mappers: an encoder's hidden states of one text (seq_len, hidden) -> one BigGAN class vector (128,).

Every mapper is a pooling (where to look among the tokens) followed by a head (what to say):
  linear      mean pooling -> linear map, fitted in closed form (ridge): the reference recipe
  mlp         mean pooling -> 2-layer MLP regressing Z
  attention   learned-query attention pooling -> 2-layer MLP regressing Z
  classifier  learned-query attention pooling -> cosine to one learned prototype per class, plus a frozen
              retrieval prior (cosine of the mean-pooled text to each class's description, "tabby cat, a
              kind of domestic cat", i.e. nearest class in the encoder's own space; see
              training.description_indices) -> probabilities -> probability-weighted mix of the
              class embeddings: the output stays on BigGAN's class manifold, the probabilities are the class
              readout, and training corrects the encoder's retrieval instead of replacing it
  contextual  the classifier with one trainable transformer layer over the tokens before its pooling
  adapter     the classifier with a residual MLP on its pooled text, which starts as the identity
  windowed    the classifier whose attention scores read each token's neighbours (a convolution over a
              window of tokens) to find the sentence's subject, pooling the encoder's own states: the default
The classifiers also carry a memory of their training sentences (ExampleMemory): where a text's pooled
features are close to one, the class distribution of its nearest examples is mixed into the probabilities.
Classifiers trained with outside words (mapper/outside.py) also say how likely the text is to name nothing
among the 1000 classes (OutsideHead), and what stands in for it then (a second cosine head): the readout is
P(inside) P(class | inside) + P(outside) P(class | outside). Every pooling says how much each token weighed.

A Mapper is a huggingface_hub PyTorchModelHubMixin: save_pretrained / push_to_hub write config.json,
model.safetensors and the model card (mapper/card.py); from_pretrained reads them back from a folder or a Hub repo
at a given revision, safetensors only.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from huggingface_hub import ModelCard, PyTorchModelHubMixin
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mapper import card
from mapper.fingerprint import tensor_sha256
from mapper.revisions import is_hub_id

CONFIG_NAME, WEIGHTS_NAME, CARD_NAME = "config.json", "model.safetensors", "README.md"
ARCHITECTURES = {  # name -> (pooling, head)
    "linear": ("mean", "linear"),
    "mlp": ("mean", "mlp"),
    "attention": ("attention", "mlp"),
    "classifier": ("attention", "classifier"),
    "contextual": ("context", "classifier"),
    "adapter": ("adapted", "classifier"),
    "windowed": ("windowed", "classifier"),
}
DEFAULT_ARCH = "windowed"
# Regression heads have no class distribution of their own; for blending, their cosine similarities to
# the class embeddings become one with this temperature.
COSINE_TEMPERATURE = 0.05
# Saved in float16 (and rounded to it when stored, so a round-trip is exact): the memory's keys are most
# of the file, and cosines move by less than 1e-3.
HALF_PRECISION = {"memory.keys"}
OUTSIDE_THRESHOLD = 0.5  # above it, a text is read as naming nothing ImageNet has
MEMORY_PARTS = ("keys", "rows", "distributions", "definitions", "outside")
# What a mapper's output indexes. A classifier's is a distribution over the 1000 ImageNet classes in their
# standard order, which every BigGAN-deep (128, 256, 512) shares; Z enters only as p @ Z, so any of them can
# draw it. A regression head outputs a point in one BigGAN's embedding space, meaningful for that Z alone.
TARGET_CLASSES = "imagenet-classes"
TARGET_EMBEDDINGS = "class-embeddings"


@dataclass
class MapperConfig:
    arch: str
    hidden_size: int
    encoder: str  # the encoder it was trained with, as given (Hub id or folder)
    encoder_sha256: str  # `TextEncoder.fingerprint` of that encoder
    gan: str  # the BigGAN (or embedding file) whose class embeddings it targets
    z_sha256: str  # checksum of those (1000, 128) class embeddings
    mlp_dim: int = 1024
    adapter_dim: int = 2048
    window: int = 5  # windowed: tokens each attention score reads,
    window_dim: int = 256  # and the width of the convolution that reads them
    dropout: float = 0.1
    logit_scale: float = 20.0
    memory_k: int = 10  # ExampleMemory: neighbours consulted,
    memory_temperature: float = 0.05  # the softmax over their cosines,
    memory_threshold: float = 0.8  # the cosine of the nearest below which the memory stays silent,
    memory_definition_threshold: float = 0.9  # or, when the nearest is a definition, this one,
    memory_weight: float = 0.6  # and its share of the probabilities when it speaks (0: never)
    outside: bool = False  # has an OutsideHead (classifiers trained with outside words; older mappers never flag)
    outside_dim: int = 256
    num_classes: int = 1000
    embedding_dim: int = 128
    target: str | None = None  # TARGET_CLASSES or TARGET_EMBEDDINGS; None (configs saved before): by the head

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown mapper architecture {self.arch!r}: choose from {sorted(ARCHITECTURES)}")
        classifier = ARCHITECTURES[self.arch][1] == "classifier"
        if self.target is None:
            self.target = TARGET_CLASSES if classifier else TARGET_EMBEDDINGS
        if self.target not in ((TARGET_CLASSES, TARGET_EMBEDDINGS) if classifier else (TARGET_EMBEDDINGS,)):
            raise ValueError(f"a {self.arch} mapper cannot target {self.target!r}")


class MeanPool(nn.Module):
    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)

    def token_weights(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(batch, seq): what each token weighs in the pooled features; each row sums to 1 over real tokens."""
        weights = mask.to(hidden.dtype)
        return weights / weights.sum(1, keepdim=True).clamp(min=1)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """softmax over the real tokens only: (batch, seq) -> (batch, seq)."""
    return scores.masked_fill(mask == 0, float("-inf")).softmax(dim=1)


def weighted_sum(weights: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    return (weights.unsqueeze(-1) * hidden).sum(1)


class AttentionPool(nn.Module):
    """Weighted average of the tokens, weights from a learned query; starts out as mean pooling."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.key = nn.Linear(hidden_size, hidden_size)
        self.query = nn.Parameter(torch.zeros(hidden_size))

    def token_weights(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_softmax(self.key(hidden) @ self.query / hidden.shape[-1] ** 0.5, mask)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return weighted_sum(self.token_weights(hidden, mask), hidden)


class ContextPool(nn.Module):
    """One trainable transformer layer over the encoder's tokens, then attention pooling.

    Which noun is the subject ("There was a mailbox right near a Persian cat") is a relation between
    tokens that one pooling query, scoring each token alone, cannot see; a layer trained on two-object
    scenes can. Its feed-forward width is the hidden size, to keep training on a CPU within minutes.
    """

    def __init__(self, hidden_size: int, dropout: float):
        super().__init__()
        heads = max(1, hidden_size // 64)
        while hidden_size % heads:
            heads -= 1
        self.layer = nn.TransformerEncoderLayer(
            hidden_size, heads, hidden_size, dropout, batch_first=True, norm_first=True
        )
        self.pool = AttentionPool(hidden_size)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.pool(self.layer(hidden, src_key_padding_mask=mask == 0), mask)

    def token_weights(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.pool.token_weights(self.layer(hidden, src_key_padding_mask=mask == 0), mask)


class AdaptedPool(nn.Module):
    """Attention pooling, then a residual MLP whose output layer starts at zero.

    Rare words ("fuze", "cannikin") and everyday words spread over many classes are fitted by neither a
    pooling query nor one prototype per class (0.81 and 0.86 of their training sentences right); this
    gives the classifier room to fit them while it starts exactly where the classifier does.
    """

    def __init__(self, hidden_size: int, width: int, dropout: float):
        super().__init__()
        self.pool = AttentionPool(hidden_size)
        self.mlp = mlp(hidden_size, width, hidden_size, dropout)
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(hidden, mask)
        return pooled + self.mlp(pooled)

    def token_weights(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.pool.token_weights(hidden, mask)


class WindowedAttentionPool(nn.Module):
    """Attention pooling whose score for each token reads the tokens around it; pools the encoder's own states.

    Which noun is the subject is told by its neighbours ("{a} next to {b}", "Beside {b} stood {a}"), and a
    query scoring each token alone cannot see them: with it, the classifier gets 0.59-0.82 of its own
    training scenes right. A convolution over `window` tokens scores each one from its context; the pooled
    values stay the encoder's hidden states, so unseen wordings keep the geometry the classifier relies on
    (rewriting the states with a transformer layer, `contextual`, reads natural sentences worse). The score
    layer starts at zero: mean pooling, as AttentionPool starts.
    """

    def __init__(self, hidden_size: int, width: int, window: int):
        super().__init__()
        self.conv = nn.Conv1d(hidden_size, width, window, padding=window // 2)
        self.score = nn.Linear(width, 1)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def token_weights(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        context = self.conv((hidden * mask.unsqueeze(-1).to(hidden.dtype)).transpose(1, 2))  # padding reads as zeros
        return masked_softmax(self.score(F.gelu(context).transpose(1, 2)).squeeze(-1), mask)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return weighted_sum(self.token_weights(hidden, mask), hidden)


class CosineClassifier(nn.Module):
    """Logits = scale * cos(features, prototype_c): keeps the encoder's geometry, so unseen wordings
    that the encoder places near a class still land on it."""

    def __init__(self, hidden_size: int, num_classes: int, scale: float):
        super().__init__()
        self.prototypes = nn.Parameter(torch.randn(num_classes, hidden_size) / hidden_size**0.5)
        self.scale = scale

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return cosine_logits(features, self.prototypes, self.scale)


class ExampleMemory(nn.Module):
    """The pooled features of the training sentences and their class distributions, consulted at inference.

    One prototype per class has to sit near every wording of it at once, so a rare kind seen in one
    sentence ("pyx", "chandlery") or an everyday word beside another object stays underfitted even in
    training (0.59-0.82 of those sentences right). The nearest training sentence still knows them: when the
    closest example is at least `threshold` similar, the distribution of the k nearest (softmax of their
    cosines / temperature) gets `weight` of the probabilities (kNN-LM, Khandelwal et al. 2020). Below the
    threshold (definitions of classes never defined in training, most natural sentences) the classifier
    speaks alone. Definitions share their wording ("any of various...", "a breed of..."), so a definition
    of another thing sits nearer than a caption of another thing would: when the nearest example is a
    definition, it must be `definition_threshold` similar. Sentences sharing a distribution share its row.
    Each example also records whether it names nothing among the classes, recalled the same way.
    """

    def __init__(self, config: MapperConfig):
        super().__init__()
        self.config = config
        nothing = torch.zeros(0, dtype=torch.long)
        self.store(torch.zeros(0, config.hidden_size), nothing, torch.zeros(0, config.num_classes), nothing.bool())

    def store(
        self, keys: torch.Tensor, rows: torch.Tensor, distributions: torch.Tensor, definitions: torch.Tensor,
        outside: torch.Tensor | None = None,
    ) -> None:
        """keys (n, hidden): pooled features; rows (n,): each one's row of distributions (u, classes);
        definitions (n,): whether each example is a definition; outside (n,): whether it names no class
        (None: none does)."""
        outside = torch.zeros(len(keys), dtype=torch.bool) if outside is None else outside
        if not len(keys) == len(rows) == len(definitions) == len(outside) or (
            len(rows) and not 0 <= int(rows.min()) <= int(rows.max()) < len(distributions)
        ):
            raise ValueError(
                f"memory: {len(keys)} keys, {len(rows)} rows, {len(definitions)} definition flags, {len(outside)} "
                f"outside flags; rows must index {len(distributions)} distributions"
            )
        self.register_buffer("keys", F.normalize(keys.float(), dim=-1).half().float())  # saved as float16
        self.register_buffer("rows", rows.long())
        self.register_buffer("distributions", distributions.float())
        self.register_buffer("definitions", definitions.bool())
        self.register_buffer("outside", outside.bool())

    def __len__(self) -> int:
        return len(self.keys)

    def forward(
        self, features: torch.Tensor, probs: torch.Tensor, outside: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(probs (batch, classes), P(outside) (batch,)), each with the nearest examples' mixed in."""
        config = self.config
        if len(self) == 0 or config.memory_weight == 0:
            return probs, outside
        cosines = F.normalize(features, dim=-1) @ self.keys.T
        nearest, index = cosines.topk(min(config.memory_k, len(self)), dim=-1)
        weights = (nearest / config.memory_temperature).softmax(-1)
        recalled = torch.einsum("bk,bkc->bc", weights, self.distributions[self.rows[index]])
        threshold = torch.where(self.definitions[index[:, 0]], config.memory_definition_threshold, config.memory_threshold)
        share = config.memory_weight * (nearest[:, 0] >= threshold).to(probs.dtype)
        recalled_outside = (weights * self.outside[index].to(weights.dtype)).sum(-1)
        return torch.lerp(probs, recalled, share.unsqueeze(-1)), torch.lerp(outside, recalled_outside, share)


class OutsideHead(nn.Module):
    """Logit of "the text names nothing among the classes", from the pooled features (normalised, as the
    classifier reads them). Trained on outside words (mapper/outside.py) beside the classes' sentences."""

    def __init__(self, hidden_size: int, width: int, dropout: float):
        super().__init__()
        self.mlp = mlp(hidden_size, width, 1, dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(F.normalize(features, dim=-1)).squeeze(-1)


@dataclass
class MapperReading:
    """What a mapper reads in a batch of texts."""

    probs: torch.Tensor  # (batch, classes) the readout, memory mixed in
    outside: torch.Tensor  # (batch,) P(the text names nothing among the classes); 0 for a mapper without a head
    token_weights: torch.Tensor  # (batch, seq) what each token weighed in the pooled features


def cosine_logits(features: torch.Tensor, prototypes: torch.Tensor, scale: float) -> torch.Tensor:
    return scale * F.normalize(features, dim=-1) @ F.normalize(prototypes, dim=-1).T


def mlp(d_in: int, d_hidden: int, d_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_hidden, d_out))


class Mapper(nn.Module, PyTorchModelHubMixin, library_name="pytorch", tags=["text-to-image", "biggan", "text2biggan"]):
    def __init__(self, config: MapperConfig, class_embeddings: torch.Tensor):
        super().__init__()
        self.config = config
        pooling, head = ARCHITECTURES[config.arch]
        self.register_buffer("class_embeddings", class_embeddings.float().clone())
        if pooling == "adapted":
            self.pool = AdaptedPool(config.hidden_size, config.adapter_dim, config.dropout)
        elif pooling == "context":
            self.pool = ContextPool(config.hidden_size, config.dropout)
        elif pooling == "windowed":
            self.pool = WindowedAttentionPool(config.hidden_size, config.window_dim, config.window)
        elif pooling == "attention":
            self.pool = AttentionPool(config.hidden_size)
        else:
            self.pool = MeanPool()
        if head == "linear":
            self.head = nn.Linear(config.hidden_size, config.embedding_dim)
        elif head == "mlp":
            self.head = mlp(config.hidden_size, config.mlp_dim, config.embedding_dim, config.dropout)
        else:
            self.head = CosineClassifier(config.hidden_size, config.num_classes, config.logit_scale)
            self.prior_pool = MeanPool()
            self.register_buffer("prior_prototypes", torch.zeros(config.num_classes, config.hidden_size))
            self.memory = ExampleMemory(config)
            if config.outside:
                self.outside_head = OutsideHead(config.hidden_size, config.outside_dim, config.dropout)
                self.standin_head = CosineClassifier(config.hidden_size, config.num_classes, config.logit_scale)
        self.is_classifier = head == "classifier"
        self.has_outside = self.is_classifier and config.outside

    def features(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The pooled text representation the head reads: (batch, hidden)."""
        return self.pool(hidden_states, attention_mask)

    def class_logits(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(batch, 1000) logits, without the memory: the classifier's own, or scaled cosines of a regressed
        vector. What training fits."""
        return self._logits(self.features(hidden_states, attention_mask), hidden_states, attention_mask)

    def _logits(self, features: torch.Tensor, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.head(features)
        if self.is_classifier:
            prior = self.prior_pool(hidden_states, attention_mask)
            return out + cosine_logits(prior, self.prior_prototypes, self.config.logit_scale)
        return cosine_to_classes(out, self.class_embeddings) / COSINE_TEMPERATURE

    def _probabilities(
        self, features: torch.Tensor, hidden_states: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        probs = self._logits(features, hidden_states, attention_mask).softmax(-1)
        outside = probs.new_zeros(len(probs))
        if self.has_outside:  # the classes only where the text names one; else what WordNet says stands in
            outside = self.outside_head(features).sigmoid()
            probs = torch.lerp(probs, self.standin_head(features).softmax(-1), outside.unsqueeze(-1))
        return self.memory(features, probs, outside) if self.is_classifier else (probs, outside)

    def class_probabilities(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(batch, 1000) probabilities over the classes, the memory's recall mixed in: the readout."""
        return self._probabilities(self.features(hidden_states, attention_mask), hidden_states, attention_mask)[0]

    @torch.inference_mode()
    def read(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> MapperReading:
        """The readout, the outside probability and the token weights, from one pass."""
        features = self.features(hidden_states, attention_mask)
        probs, outside = self._probabilities(features, hidden_states, attention_mask)
        return MapperReading(probs, outside, self.pool.token_weights(hidden_states, attention_mask))

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(batch, seq, hidden) + (batch, seq) mask -> (batch, 128) class vectors."""
        if self.is_classifier:
            return self.class_probabilities(hidden_states, attention_mask) @ self.class_embeddings
        return self.head(self.features(hidden_states, attention_mask))

    # --- persistence: the mixin's save_pretrained and push_to_hub call these ----------------------------

    def save_pretrained(self, save_directory: str | Path, **mixin_kwargs) -> Path:
        """The mixin's (config.json, model.safetensors, README.md; `model_card_kwargs` are card.model_card's),
        returning the folder; `push_to_hub(repo_id, ...)` uploads the same files. A card left by an earlier save
        is replaced: it described other weights."""
        folder = Path(save_directory)
        (folder / CARD_NAME).unlink(missing_ok=True)
        super().save_pretrained(folder, **mixin_kwargs)
        return folder

    def _save_pretrained(self, save_directory: Path) -> None:
        """The files as they always were: the config as JSON, the weights as safetensors (memory keys in float16)."""
        (save_directory / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        state = {k: (v.half() if k in HALF_PRECISION else v).contiguous() for k, v in self.state_dict().items()}
        save_file(state, save_directory / WEIGHTS_NAME, metadata={"format": "pt"})

    def generate_model_card(self, **card_kwargs) -> ModelCard:
        return card.generate(self, **card_kwargs)

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        force_download: bool = False,
        token: str | bool | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        revision: str | None = None,
    ) -> Mapper:
        """Load from a folder or a Hub repo (at `revision`: a branch, tag or commit; default main): JSON config +
        safetensors, never pickle or remote code. The mixin's own reads config.json before any check and lets a
        Hub failure through as a traceback; this one names the file or repo that failed, in one line."""
        return cls._from_pretrained(
            model_id=str(pretrained_model_name_or_path), revision=revision, cache_dir=cache_dir,
            force_download=force_download, local_files_only=local_files_only, token=token,
        )

    @classmethod
    def _from_pretrained(cls, *, model_id: str, **hub_kwargs) -> Mapper:
        """The mixin's hook, without its fall-back to a pickled pytorch_model.bin."""
        config_path, weights_path = resolve_files(model_id, **hub_kwargs)
        config, state = read_config(config_path), read_weights(weights_path)
        mapper = cls(config, state["class_embeddings"])
        if mapper.is_classifier and "memory.keys" in state:  # sized by what was saved
            parts = [f"memory.{k}" for k in MEMORY_PARTS]
            if missing := [k for k in parts[:-1] if k not in state]:
                raise ValueError(f"{weights_path}: a memory without {', '.join(missing)}")
            mapper.memory.store(*(state.get(k) for k in parts))  # saved before outside words: no outside flags
            state.setdefault("memory.outside", mapper.memory.outside)
        elif mapper.is_classifier:  # saved before classifiers had a memory: an empty one
            state.update({f"memory.{k}": v for k, v in mapper.memory.state_dict().items()})
        mapper.load_state_dict(state, strict=True)
        return mapper.eval()

    def check_compatible(self, encoder_sha256: str, class_embeddings: torch.Tensor) -> None:
        """Refuse an encoder other than the one this mapper was trained for, and a BigGAN it cannot drive: for a
        mapper targeting the ImageNet classes, one with another number of classes; else any other Z."""
        if encoder_sha256 != self.config.encoder_sha256:
            raise ValueError(
                f"this mapper was trained on the hidden states of {self.config.encoder!r}; the encoder given "
                "is a different model (token embeddings differ). Load the encoder it was trained with."
            )
        if self.config.target == TARGET_CLASSES:
            if len(class_embeddings) != self.config.num_classes:
                raise ValueError(
                    f"this mapper reads the {self.config.num_classes} ImageNet classes; the BigGAN given has "
                    f"{len(class_embeddings)} classes. Load a BigGAN-deep trained on ImageNet."
                )
        elif tensor_sha256(class_embeddings) != self.config.z_sha256:
            raise ValueError(
                f"this mapper targets the class embeddings of {self.config.gan!r}; the BigGAN given has "
                "different ones. Load that BigGAN, or train a mapper for this one."
            )

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def resolve_files(folder_or_repo: str, **hub_kwargs) -> tuple[Path, Path]:
    """The config and weights of a mapper folder, or of a Hub repo downloaded with `hub_kwargs` (hf_hub_download's
    revision, cache_dir, token, force_download, local_files_only); a repo that cannot be had is one OSError."""
    folder = Path(folder_or_repo).expanduser()
    if folder.is_dir():
        missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / n).is_file()]
        if missing:
            raise FileNotFoundError(f"mapper folder {folder} lacks {', '.join(missing)}")
        return folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not is_hub_id(folder_or_repo):
        raise FileNotFoundError(f"mapper folder not found: {folder_or_repo}")
    from huggingface_hub import hf_hub_download

    try:
        return tuple(Path(hf_hub_download(folder_or_repo, name, **hub_kwargs)) for name in (CONFIG_NAME, WEIGHTS_NAME))
    except Exception as err:  # noqa: BLE001 - every Hub failure gets the same advice
        at = f" at revision {hub_kwargs['revision']!r}" if hub_kwargs.get("revision") else ""
        raise OSError(
            f"could not load mapper {folder_or_repo!r}{at}: not a local folder, and not downloadable from the Hub "
            f"({err.__class__.__name__})"
        ) from None


def read_config(path: Path) -> MapperConfig:
    """A mapper's config; one that is not a config (cut short, garbled, another program's) names its file."""
    try:
        return MapperConfig(**json.loads(path.read_text(encoding="utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as err:
        raise ValueError(f"mapper file {path} cannot be read as a mapper config ({err})") from None


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A mapper's tensors; a file that safetensors cannot read (cut short, corrupt) names itself."""
    try:
        return load_file(path)
    except SafetensorError as err:
        raise ValueError(f"mapper file {path} cannot be read ({err}); it is truncated or corrupt") from None


def cosine_to_classes(vectors: torch.Tensor, class_embeddings: torch.Tensor) -> torch.Tensor:
    return F.normalize(vectors, dim=-1) @ F.normalize(class_embeddings, dim=-1).T


def blend(probs: torch.Tensor, class_embeddings: torch.Tensor, sharpness: float) -> torch.Tensor:
    """Class vectors from a class distribution: 0 snaps to the top class, 1 keeps the distribution as is.

    In between, probabilities are raised to the power 1/sharpness and renormalised, so the second and
    third classes fade in gradually: hybrids.
    """
    if not 0 <= sharpness <= 1:
        raise ValueError(f"blend must be in [0, 1], got {sharpness}")
    if sharpness == 0:
        return class_embeddings[probs.argmax(-1)]
    sharpened = (probs.clamp_min(1e-30).log() / sharpness).softmax(-1)
    return sharpened @ class_embeddings


def top_classes(vectors: torch.Tensor, class_embeddings: torch.Tensor, k: int = 5, csls: torch.Tensor | None = None):
    """Nearest ImageNet classes by cosine: (scores, indices), each (batch, k).

    With `csls` (per-class hubness penalty, see training.csls_penalty) the score is CSLS:
    2 cos(v, z_c) - r_c, which demotes classes that are near everything.
    """
    scores = cosine_to_classes(vectors, class_embeddings)
    if csls is not None:
        scores = 2 * scores - csls
    return scores.topk(k, dim=-1)
