"""Text -> contextual hidden states, with any `transformers` encoder."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from safetensors import SafetensorError
from torch import nn
from transformers import AutoModel, AutoTokenizer

from mapper.fingerprint import tensor_sha256

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 512
# A sentence is about a dozen tokens: oneDNN lays each weight out for products of about this many rows.
PACKED_ROWS = 16


@dataclass
class EncoderOutput:
    hidden_states: torch.Tensor  # (batch, seq_len, hidden), float32
    attention_mask: torch.Tensor  # (batch, seq_len), 1 for real tokens


def looks_like_path(name: str) -> bool:
    """A Hub id is `name` or `owner/name`; anything else is meant as a folder."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or Path(name).exists()


class TextEncoder:
    def __init__(self, tokenizer, model, name_or_path: str):
        self.tokenizer = tokenizer
        self.model = model.eval()
        self.name_or_path = name_or_path
        limits = [MAX_TOKENS, tokenizer.model_max_length]
        limits.append(getattr(model.config, "max_position_embeddings", MAX_TOKENS))
        self.max_length = min(limits)

    @classmethod
    def from_pretrained(
        cls, name_or_path: str = DEFAULT_ENCODER, device: str | None = None, revision: str | None = None
    ) -> TextEncoder:
        """Load a Hub id (at `revision`: a branch, tag or commit; default main) or a folder; a folder that lacks its
        weights or tokenizer, or holds unreadable ones, is refused with one line saying so."""
        name_or_path = str(name_or_path)
        folder = Path(name_or_path).expanduser()
        if looks_like_path(name_or_path) and not folder.is_dir():
            raise FileNotFoundError(f"encoder folder not found: {name_or_path}")
        try:
            model = AutoModel.from_pretrained(name_or_path, revision=revision)
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision)
        except (OSError, ValueError, SafetensorError) as err:
            if not folder.is_dir():
                raise ValueError(
                    f"could not load text encoder {name_or_path!r}: not a local folder with a "
                    f"transformers model, and not downloadable from the Hub ({err.__class__.__name__})"
                ) from None
            reason = str(err).strip().splitlines()[0]  # transformers' messages run to several lines
            raise ValueError(f"could not load text encoder folder {folder}: {reason}") from None
        if len(tokenizer) <= len(tokenizer.all_special_ids):  # transformers makes one from nothing
            raise ValueError(
                f"text encoder {name_or_path}: its tokenizer has no vocabulary, only special tokens; the folder "
                "lacks its tokenizer files (tokenizer.json, or a vocabulary such as vocab.txt)"
            )
        return cls(tokenizer, pack_linears(model.to(device or "cpu")), name_or_path)

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @cached_property
    def fingerprint(self) -> str:
        """Checksum of the token embeddings: the same model has the same one, local copy or Hub id."""
        return tensor_sha256(self.model.get_input_embeddings().weight)

    @property
    def device(self) -> torch.device:
        return self.model.device

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> EncoderOutput:
        """Last hidden states of a batch, padded to its longest text, cut at `max_length` tokens."""
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        hidden = self.model(**batch).last_hidden_state
        return EncoderOutput(hidden.float(), batch["attention_mask"])

    def word_spans(self, text: str) -> list[tuple[int, int] | None]:
        """For each token that encode([text]) gives, the span in `text` of the word it is part of (the
        tokenizer's own words: "dog." is "dog" and "."); None for special tokens."""
        batch = self.tokenizer(text, truncation=True, max_length=self.max_length, return_offsets_mapping=True)
        word_ids = batch.word_ids()
        spans: dict[int, tuple[int, int]] = {}
        for word, (start, end) in zip(word_ids, batch["offset_mapping"]):
            if word is not None:
                first, last = spans.get(word, (start, end))
                spans[word] = (min(first, start), max(last, end))
        return [None if word is None else spans[word] for word in word_ids]


class PackedLinear(nn.Module):
    """A frozen nn.Linear with its weight laid out once in oneDNN's blocked format.

    With a dozen rows per product (one sentence), F.linear's matmul re-reads the plain weight at every
    call and the encoder spends most of its time there; packed once, it runs 1.4x faster. Products agree
    with F.linear to rounding (about 1e-6).
    """

    def __init__(self, linear: nn.Linear, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.dtype = dtype  # float32 in the product; bench/encoder_precision.py measures bfloat16
        # An opaque oneDNN tensor: a plain attribute, not a buffer, as FixedConv2d's in mapper.fast_generator.
        self.weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach().to(dtype), PACKED_ROWS)
        self.bias = linear.bias if dtype == torch.float32 else linear.bias.detach().to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == self.dtype:  # the product's path: no conversions
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
        return torch.ops.mkldnn._linear_pointwise(x.to(self.dtype), self.weight, self.bias, "none", [], "").to(x.dtype)


def cpu_has_bf16_matmul() -> bool:
    """Whether oneDNN runs bfloat16 matmuls natively here (AVX-512 BF16 or AVX-NE-CONVERT)."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def pack_linears(model: nn.Module, dtype: torch.dtype = torch.float32) -> nn.Module:
    """`model` with every nn.Linear packed for oneDNN (weights in `dtype`, activations in and out as they
    come) when it runs in float32 on a CPU that has it; else as is."""
    weight = next(model.parameters())
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return model
    if dtype == torch.bfloat16 and not cpu_has_bf16_matmul():
        raise RuntimeError("this CPU has no oneDNN bfloat16 matmul (it needs AVX-512 BF16 or AVX-NE-CONVERT); pack in float32")
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, name, PackedLinear(child, dtype))
    return model


def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the real tokens' states: (batch, seq, hidden) -> (batch, hidden)."""
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * mask).sum(1) / mask.sum(1).clamp(min=1)
