"""BigGAN-deep's generator rebuilt for inference: the package's function with less work per image.

The package recomputes at every call what is fixed at inference, and computes what it throws
away. Here, once, at construction:

- spectral norm is divided out of every weight (eval-mode W / sigma from the stored u and v;
  the package re-derives sigma and rewrites every weight on every forward);
- the batch-norm statistics of all truncations become one table, and the ~40 class-conditional
  batch norms one matmul giving a per-sample scale and shift;
- the 3x3 convolution after each nearest 2x up-sampling becomes four 2x2 convolutions on the
  small input (4 multiply-adds per output instead of 9);
- the RGB convolution keeps 3 of its 128 output channels, the only ones the package returns;
- self-attention's three input projections become one matmul, and its gain joins the output one.

Activations stay channels-last throughout, the layout oneDNN convolutions run in natively.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pytorch_pretrained_biggan import BigGAN
from pytorch_pretrained_biggan.model import BigGANBatchNorm, GenBlock, SelfAttn
from torch import Tensor, nn
from torch.nn.utils.spectral_norm import SpectralNorm

# Nearest 2x up-sampling then a 3x3 convolution: output row 2i+a sees input rows i-1+a and i+a,
# weighted by these sums of the kernel's rows (UPSAMPLED_TAPS[a] @ kernel rows); columns alike.
UPSAMPLED_TAPS = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])

ScaleShift = tuple[Tensor, Tensor]


def spectral_normalized_weight(module: nn.Module) -> Tensor:
    """W / sigma exactly as torch's spectral_norm computes it in eval mode (stored u and v)."""
    hook = next(h for h in module._forward_pre_hooks.values() if isinstance(h, SpectralNorm))
    with torch.no_grad():
        return hook.compute_weight(module, do_power_iteration=False).clone()


def upsampled_conv_weight(weight: Tensor) -> Tensor:
    """(O, I, 3, 3) -> (4*O, I, 2, 2): the 2x2 kernel of each output phase (a, b), phase-major."""
    taps = UPSAMPLED_TAPS.to(weight)
    phases = torch.einsum("apy,oiyx,bqx->aboipq", taps, weight, taps)
    return phases.reshape(4 * weight.shape[0], weight.shape[1], 2, 2)


def affine_relu(x: Tensor, scale_shift: ScaleShift) -> Tensor:
    scale, shift = scale_shift
    return torch.addcmul(shift, x, scale).relu_()


def upsampled_affine_relu(phases: Tensor, scale_shift: ScaleShift) -> Tensor:
    """relu(bn(.)) of conv3x3(upsample_2x(x)), given the four phase outputs of conv2d(x, upsampled_conv_weight, padding=1).

    Phase (a, b) of output pixel (i, j) sits at phases[:, (2a+b)*O:(2a+b+1)*O, i+a, j+b], so a
    strided view reads all four interleaved, and the batch norm writes the up-sampled image in one pass.
    """
    phases = phases.contiguous(memory_format=torch.channels_last)
    batch, phase_channels, rows, cols = phases.shape
    channels, height, width = phase_channels // 4, rows - 1, cols - 1
    batch_stride, _, row_stride, col_stride = phases.stride()
    interleaved = phases.as_strided(
        (batch, height, 2, width, 2, channels),
        (batch_stride, row_stride, row_stride + 2 * channels, col_stride, col_stride + channels, 1),
    )
    scale, shift = (t.reshape(batch, 1, 1, 1, 1, channels) for t in scale_shift)
    out = torch.empty(interleaved.shape, dtype=phases.dtype, device=phases.device)
    torch.addcmul(shift, interleaved, scale, out=out).relu_()
    return out.view(batch, 2 * height, 2 * width, channels).permute(0, 3, 1, 2)


def add_upsampled_(x: Tensor, skip: Tensor) -> Tensor:
    """x += upsample_2x(skip), in place on channels-last x, without building the up-sampled skip."""
    batch, channels, height, width = skip.shape
    pixels = x.permute(0, 2, 3, 1).view(batch, height, 2, width, 2, channels)
    pixels.add_(skip.permute(0, 2, 3, 1).reshape(batch, height, 1, width, 1, channels))
    return x


class BatchNormTable(nn.Module):
    """A generator's conditional batch norms as one per-sample (scale, shift) computation.

    Every truncation row's mean and 1/sqrt(var + eps) is tabulated once, and the class-conditional
    gains and offsets of all layers are one matmul. Row k serves truncation k / (n_stats - 1)
    exactly; the package's float division misses the grid at 0.14, 0.28, 0.56 and 0.58 and reads
    (almost entirely) the row below there.
    """

    def __init__(self, norms: list[BigGANBatchNorm]):
        super().__init__()
        self.sizes = [norm.num_features for norm in norms]
        means = torch.cat([norm.running_means for norm in norms], dim=1)
        inv_stds = torch.cat([1 / torch.sqrt(norm.running_vars + norm.eps) for norm in norms], dim=1)
        self.register_buffer("stats", torch.stack([means, inv_stds], dim=1))  # (n_stats, 2, total)
        gains = [spectral_normalized_weight(norm.scale) for norm in norms]
        offsets = [spectral_normalized_weight(norm.offset) for norm in norms]
        self.register_buffer("weight", torch.cat(gains + offsets))  # (2 * total, cond_dim)

    def forward(self, cond_vector: Tensor, row: int) -> list[ScaleShift]:
        """Per layer, (scale, shift) of shape (B, C, 1, 1) such that bn(x) = x * scale + shift."""
        mean, inv_std = self.stats[row]
        gain, offset = F.linear(cond_vector, self.weight).chunk(2, dim=1)
        scale = (1 + gain) * inv_std
        shift = offset - mean * scale
        pairs = zip(scale.split(self.sizes, dim=1), shift.split(self.sizes, dim=1))
        return [(s[:, :, None, None], t[:, :, None, None]) for s, t in pairs]


class FoldedBlock(nn.Module):
    """GenBlock with spectral norm folded; its four batch norms arrive as (scale, shift) pairs."""

    def __init__(self, block: GenBlock):
        super().__init__()
        self.up_sample = block.up_sample
        convs = {name: getattr(block, f"conv_{name}") for name in "0123"}
        for name, conv in convs.items():
            weight, bias = spectral_normalized_weight(conv), conv.bias.detach().clone()
            if name == "1" and self.up_sample:
                weight, bias = upsampled_conv_weight(weight), bias.repeat(4)
            self.register_buffer(f"weight_{name}", weight.contiguous(memory_format=torch.channels_last))
            self.register_buffer(f"bias_{name}", bias)
        self.out_channels = self.weight_3.shape[0]

    def forward(self, x: Tensor, norms: list[ScaleShift]) -> Tensor:
        h = F.conv2d(affine_relu(x, norms[0]), self.weight_0, self.bias_0)
        h = F.conv2d(affine_relu(h, norms[1]), self.weight_1, self.bias_1, padding=1)
        h = upsampled_affine_relu(h, norms[2]) if self.up_sample else affine_relu(h, norms[2])
        h = F.conv2d(h, self.weight_2, self.bias_2, padding=1)
        h = F.conv2d(affine_relu(h, norms[3]), self.weight_3, self.bias_3)
        skip = x[:, : self.out_channels]
        return add_upsampled_(h, skip) if self.up_sample else h.add_(skip)


class FoldedSelfAttention(nn.Module):
    """SelfAttn on channels-last pixels: one input projection, gamma folded into the output one."""

    def __init__(self, attention: SelfAttn):
        super().__init__()
        self.key_channels = attention.in_channels // 8
        projections = [attention.snconv1x1_theta, attention.snconv1x1_phi, attention.snconv1x1_g]
        in_weight = torch.cat([spectral_normalized_weight(p) for p in projections]).flatten(1)
        out_weight = attention.gamma.detach() * spectral_normalized_weight(attention.snconv1x1_o_conv).flatten(1)
        self.register_buffer("in_weight", in_weight)
        self.register_buffer("out_weight", out_weight)

    def forward(self, x: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        pixels = x.permute(0, 2, 3, 1)  # a free view of channels-last x
        query, keys_values = F.linear(pixels, self.in_weight).split(
            [self.key_channels, self.in_weight.shape[0] - self.key_channels], dim=-1
        )
        pooled = F.max_pool2d(keys_values.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1).flatten(1, 2)
        key, value = pooled.split([self.key_channels, pooled.shape[-1] - self.key_channels], dim=-1)
        attention = torch.bmm(query.reshape(batch, height * width, -1), key.transpose(1, 2)).softmax(dim=-1)
        attended = torch.bmm(attention, value).view(batch, height, width, -1)
        return pixels.add(F.linear(attended, self.out_weight)).permute(0, 3, 1, 2)


class FoldedBigGAN(nn.Module):
    """Drop-in for the package's `BigGAN.generator`: (cond_vector, truncation) -> images in [-1, 1].

    The truncation reads the nearest row of the statistics grid; `gan.snap_truncation` puts it on it.
    Holds its own copy of the weights, so the source model may be used or freed independently.
    """

    def __init__(self, model: BigGAN):
        super().__init__()
        generator = model.generator
        self.channels = 16 * generator.config.channel_width
        self.register_buffer("z_weight", spectral_normalized_weight(generator.gen_z))
        self.register_buffer("z_bias", generator.gen_z.bias.detach().clone())
        blocks = [layer for layer in generator.layers if isinstance(layer, GenBlock)]
        self.norms = BatchNormTable([bn for b in blocks for bn in (b.bn_0, b.bn_1, b.bn_2, b.bn_3)])
        self.layers = nn.ModuleList(
            FoldedBlock(layer) if isinstance(layer, GenBlock) else FoldedSelfAttention(layer)
            for layer in generator.layers
        )
        bn = generator.bn
        rgb_scale = bn.weight.detach() / torch.sqrt(bn.running_vars + bn.eps)  # (n_stats, C)
        self.register_buffer("rgb_norm", torch.stack([rgb_scale, bn.bias.detach() - bn.running_means * rgb_scale], 1))
        rgb_weight = spectral_normalized_weight(generator.conv_to_rgb)[:3]
        self.register_buffer("rgb_weight", rgb_weight.contiguous(memory_format=torch.channels_last))
        self.register_buffer("rgb_bias", generator.conv_to_rgb.bias.detach()[:3].clone())

    @property
    def intervals(self) -> int:
        return self.rgb_norm.shape[0] - 1

    def forward(self, cond_vector: Tensor, truncation: float) -> Tensor:
        row = round(truncation * self.intervals)
        norms = self.norms(cond_vector, row)
        x = F.linear(cond_vector, self.z_weight, self.z_bias)
        x = x.view(-1, 4, 4, self.channels).permute(0, 3, 1, 2)  # TF layout, so already channels-last
        blocks_done = 0
        for layer in self.layers:
            if isinstance(layer, FoldedBlock):
                x = layer(x, norms[4 * blocks_done : 4 * blocks_done + 4])
                blocks_done += 1
            else:
                x = layer(x)
        scale, shift = self.rgb_norm[row, :, None, :, None, None]
        x = F.conv2d(affine_relu(x, (scale, shift)), self.rgb_weight, self.rgb_bias, padding=1)
        return torch.tanh(x).contiguous()
