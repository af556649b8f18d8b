"""Random-weight BigGANs for tests and benchmarks: no real BigGAN weights are available offline.

A random BigGAN costs exactly what a trained one does, and is loaded through the same files.
"""
from __future__ import annotations

import json
import socket
from pathlib import Path

import torch
from pytorch_pretrained_biggan import BigGAN, BigGANConfig
from pytorch_pretrained_biggan.convert_tf_to_pytorch import BigGAN128, BigGAN256, BigGAN512
from torch.nn.utils.spectral_norm import SpectralNorm

# 32x32 images, every kind of block (up-sampling, channel drop, self-attention), ~0.2 MB.
TINY_BIGGAN_CONFIG = {
    "output_dim": 32,
    "z_dim": 128,
    "class_embed_dim": 128,
    "channel_width": 4,
    "num_classes": 1000,
    "layers": [[True, 16, 8], [True, 8, 4], [True, 4, 2], [False, 2, 1]],
    "attention_layer_position": 2,
    "eps": 1e-4,
    "n_stats": 51,
}
POWER_ITERATIONS = 10
DEEP128_CONFIG = BigGANConfig().to_dict()  # the package's defaults are biggan-deep-128's
# biggan-deep-128, -256 and -512 as the package's converter defines them: 256 adds an up-sampling block that
# keeps its channels, 512 two more blocks at the narrowest width; all attend at 64 x 64.
DEEP_CONFIGS = {config.output_dim: config.to_dict() for config in (BigGAN128, BigGAN256, BigGAN512)}


def narrow_config(size: int, channel_width: int = 4) -> dict:
    """biggan-deep-`size`'s layout (blocks, up-sampling, attention, image size) at `channel_width` instead of
    128 (4: the narrowest whose bottlenecks keep a channel): `size` x `size` images from a model of a few MB."""
    return {**DEEP_CONFIGS[size], "channel_width": channel_width}


def random_biggan(config: dict, seed: int = 0, class_embeddings: torch.Tensor | None = None) -> BigGAN:
    """A BigGAN whose activations stay in range like a trained one's, optionally with given (1000, 128)
    class embeddings, so that a mapper trained on real embeddings drives it."""
    torch.manual_seed(seed)
    model = BigGAN(BigGANConfig.from_dict(config))
    model.generator.bn.weight.data.fill_(1.0)  # the package leaves these two uninitialised
    model.generator.bn.bias.data.zero_()
    with torch.no_grad():  # power iterations, so spectral norm really normalises (what 10 training-mode
        for module in model.modules():  # forwards would do, without running the convolutions)
            for hook in module._forward_pre_hooks.values():
                if isinstance(hook, SpectralNorm):
                    for _ in range(POWER_ITERATIONS):
                        hook.compute_weight(module, do_power_iteration=True)
    for name, buffer in model.named_buffers():  # batch-norm stats that differ per truncation
        if name.endswith("running_means"):
            buffer.normal_(0, 0.1)
        elif name.endswith("running_vars"):
            buffer.uniform_(0.5, 1.5)
    if class_embeddings is not None:
        model.embeddings.weight.data.copy_(class_embeddings.T)
    return model.eval()


def save_random_biggan(
    folder: Path, config: dict = TINY_BIGGAN_CONFIG, seed: int = 0, class_embeddings: torch.Tensor | None = None
) -> Path:
    """Write config.json + pytorch_model.bin, the layout of the Hub copies of BigGAN."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    torch.save(random_biggan(config, seed, class_embeddings).state_dict(), folder / "pytorch_model.bin")
    return folder


def free_port() -> int:
    """A TCP port free on this machine now, for a server started next."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
