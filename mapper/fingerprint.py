"""Checksums that tie a mapper to the exact encoder and BigGAN class embeddings it was trained with."""
from __future__ import annotations

import hashlib

import torch


def tensor_sha256(tensor: torch.Tensor) -> str:
    """Same values, same checksum, wherever the tensor was loaded from."""
    data = tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return hashlib.sha256(data).hexdigest()
