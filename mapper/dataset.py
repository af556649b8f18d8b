"""The seed dictionary on disk: sentences (X through the encoder) paired with BigGAN class vectors (Z).

Layout of a dataset folder, all open formats:
  sentences.jsonl       one `Sentence` per line (text, class_index, wnid, source, template, split, targets)
  features.safetensors  tokens (n_tokens, hidden) float16: every real token's last hidden state, sentences
                        back to back; offsets (n_sentences + 1,) int64: sentence i owns tokens[offsets[i]:
                        offsets[i+1]]; class_embeddings (1000, 128) float32: Z
  manifest.json         encoder, GAN or embedding file, checksums, counts, splits; written last
  hf_dataset/           build_dataset.py's: the sentences alone, as a `datasets` dataset (mapper/hub_dataset.py)
Per-token states, not pooled ones, because the attention-pooling mappers learn where to look.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from mapper.classes import NUM_CLASSES
from mapper.encoder import TextEncoder
from mapper.fingerprint import tensor_sha256
from mapper.sentences import Sentence, class_counts

FORMAT_VERSION = 1
MANIFEST, SENTENCES, FEATURES = "manifest.json", "sentences.jsonl", "features.safetensors"
EMBEDDING_DIM = 128


def load_class_embeddings(path: str | Path) -> torch.Tensor:
    """A (1000, 128) class-embedding matrix from a .npy file, refusing any other shape."""
    z = np.load(path, allow_pickle=False)
    if z.shape != (NUM_CLASSES, EMBEDDING_DIM):
        raise ValueError(f"{path}: class embeddings must be ({NUM_CLASSES}, {EMBEDDING_DIM}), got {z.shape}")
    return torch.from_numpy(z.astype(np.float32))


@dataclass
class Dataset:
    sentences: list[Sentence]
    tokens: torch.Tensor
    offsets: torch.Tensor
    class_embeddings: torch.Tensor
    manifest: dict

    def __len__(self) -> int:
        return len(self.sentences)

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded float32 hidden states (batch, seq, hidden) and attention mask for these sentences."""
        spans = [self.tokens[self.offsets[i] : self.offsets[i + 1]] for i in indices]
        lengths = torch.tensor([len(s) for s in spans])
        hidden = torch.nn.utils.rnn.pad_sequence(spans, batch_first=True).float()
        mask = (torch.arange(hidden.shape[1])[None] < lengths[:, None]).long()
        return hidden, mask

    def split_indices(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.sentences) if s.split == split]

    def target_distribution(self, indices: list[int]) -> torch.Tensor:
        """(batch, 1000) class distribution of each sentence; uniform for one that names no class in particular."""
        out = torch.zeros(len(indices), NUM_CLASSES)
        for row, i in enumerate(indices):
            targets = self.sentences[i].targets
            if not targets:
                out[row] = 1 / NUM_CLASSES
            for c, p in targets:
                out[row, c] = p
        return out

    def outside_flags(self, indices: list[int]) -> torch.Tensor:
        """(batch,) 1.0 for each sentence that names nothing among the classes."""
        return torch.tensor([float(self.sentences[i].outside) for i in indices])

    @property
    def has_outside(self) -> bool:
        return any(s.outside for s in self.sentences)


def encode_sentences(encoder: TextEncoder, texts: list[str], batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat float16 token states and offsets; batches by length so padding costs little."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    per_sentence: list[torch.Tensor] = [None] * len(texts)  # type: ignore[list-item]
    for start in tqdm(range(0, len(texts), batch_size), desc="encoding", unit="batch"):
        chunk = order[start : start + batch_size]
        out = encoder.encode([texts[i] for i in chunk])
        for row, i in enumerate(chunk):
            per_sentence[i] = out.hidden_states[row, out.attention_mask[row].bool()].half().cpu()
    lengths = torch.tensor([0] + [len(t) for t in per_sentence])
    return torch.cat(per_sentence), lengths.cumsum(0)


def summarise(sentences: list[Sentence]) -> dict:
    per_class = class_counts(sentences)
    return {
        "sentences": len(sentences),
        "classes_covered": sum(1 for c in per_class if c > 0),
        "per_class": {"min": min(per_class), "median": statistics.median(per_class), "max": max(per_class)},
        "splits": dict(Counter(s.split for s in sentences)),
        "sources": dict(Counter(s.source for s in sentences)),
        "heldout_templates": sorted({s.template for s in sentences if s.split == "heldout_template" and s.template}),
    }


def save_dataset(
    out: Path,
    sentences: list[Sentence],
    tokens: torch.Tensor,
    offsets: torch.Tensor,
    class_embeddings: torch.Tensor,
    manifest: dict,
) -> Path:
    """Write into a sibling temp folder, then move it into place: a folder with a manifest is complete."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private
    try:
        with open(tmp / SENTENCES, "w") as f:
            f.writelines(json.dumps(dataclasses.asdict(s)) + "\n" for s in sentences)
        save_file(
            {"tokens": tokens, "offsets": offsets, "class_embeddings": class_embeddings.contiguous()},
            tmp / FEATURES,
        )
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def build_dataset(
    out: Path,
    encoder: TextEncoder,
    class_embeddings: torch.Tensor,
    gan: str,
    sentences: list[Sentence],
    seed: int | None,
) -> Path:
    """Encode `sentences` and write the folder; `seed`: the one they were generated with (None: not known, as for
    sentences read from a published dataset)."""
    start = time.perf_counter()
    tokens, offsets = encode_sentences(encoder, [s.text for s in sentences])
    manifest = {
        "format_version": FORMAT_VERSION,
        "encoder": encoder.name_or_path,
        "encoder_sha256": encoder.fingerprint,
        "hidden_size": encoder.hidden_size,
        "gan": gan,
        "z_sha256": tensor_sha256(class_embeddings),
        "seed": seed,
        "encode_seconds": round(time.perf_counter() - start, 1),
        "tokens": len(tokens),
        **summarise(sentences),
    }
    return save_dataset(out, sentences, tokens, offsets, class_embeddings, manifest)


def load_dataset(folder: str | Path) -> Dataset:
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise FileNotFoundError(f"no dataset at {folder}: {MANIFEST} is missing (run build_dataset.py)")
    manifest = json.loads((folder / MANIFEST).read_text())
    with open(folder / SENTENCES) as f:
        sentences = [Sentence(**{**(d := json.loads(line)), "targets": tuple(map(tuple, d["targets"]))}) for line in f]
    features = load_file(folder / FEATURES)
    return Dataset(sentences, features["tokens"], features["offsets"], features["class_embeddings"], manifest)
