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
- self-attention's three input projections become one convolution, its gain joins the output
  one, and it attends in query chunks whose scores stay in cache.

Activations stay channels-last throughout, the layout oneDNN convolutions run in natively, and
on CPU every convolution's weights are packed once into oneDNN's blocked layout, which
F.conv2d would otherwise re-derive from the plain weights at every call.
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

# Attention over 4096 pixels in query chunks: 1024 x 1024 scores (4 MB) at a time are 1.3x faster
# than all 4096 x 1024 at once.
ATTENTION_QUERY_CHUNK = 1024

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


def affine_relu_(x: Tensor, scale_shift: ScaleShift) -> Tensor:
    """affine_relu in place, for a convolution output nothing else reads: saves an allocation."""
    scale, shift = scale_shift
    return torch.addcmul(shift, x, scale, out=x).relu_()


def upsampled_affine_relu(phases: Tensor, scale_shift: ScaleShift) -> Tensor:
    """relu(bn(conv3x3(upsample_2x(x)))) from phases = conv2d(x, upsampled_conv_weight(w), padding=1).

    Phase (a, b) of output pixel (i, j) sits at phases[:, (2a+b)*O:(2a+b+1)*O, i+a, j+b], so one
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
    x = x.contiguous(memory_format=torch.channels_last)  # a no-op after a channels-last convolution
    pixels = x.permute(0, 2, 3, 1).view(batch, height, 2, width, 2, channels)
    pixels.add_(skip.permute(0, 2, 3, 1).reshape(batch, height, 1, width, 1, channels))
    return x


class FixedConv2d(nn.Module):
    """A stride-1 convolution with fixed weights, packed for oneDNN when on a CPU (F.conv2d elsewhere).

    oneDNN picks the packed layout for an input size (`size` x `size` pixels); without one, some
    1x1 convolutions come out 30x slower. The layout packed for one image serves batches as well.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, padding: int, size: int):
        super().__init__()
        self.padding = [padding, padding]
        self.register_buffer("bias", bias)
        on_cpu = weight.device.type == "cpu" and weight.dtype == torch.float32
        self.packed = on_cpu and torch.backends.mkldnn.is_available()
        if self.packed:  # an opaque oneDNN tensor: a plain attribute, not a buffer
            input_size = [1, weight.shape[1], size, size]
            self.weight = torch._C._nn.mkldnn_reorder_conv2d_weight(
                weight.to_mkldnn(), self.padding, [1, 1], [1, 1], 1, input_size
            )
        else:
            self.register_buffer("weight", weight.contiguous(memory_format=torch.channels_last))

    def forward(self, x: Tensor) -> Tensor:
        if self.packed:
            return torch.ops.mkldnn._convolution_pointwise(
                x, self.weight, self.bias, self.padding, [1, 1], [1, 1], 1, "none", [], None
            )
        return F.conv2d(x, self.weight, self.bias, padding=self.padding)


def folded_conv(conv: nn.Conv2d, size: int) -> FixedConv2d:
    """The package's spectral-normalised `conv` with the normalisation divided out."""
    bias = None if conv.bias is None else conv.bias.detach().clone()
    return FixedConv2d(spectral_normalized_weight(conv), bias, conv.padding[0], size)


class BatchNormTable(nn.Module):
    """A generator's conditional batch norms as one per-sample (scale, shift) computation.

    Every truncation row's mean and 1/sqrt(var + eps) is tabulated once, and the class-conditional
    gains and offsets of all layers are one matmul. Row k serves truncation k / (n_stats - 1)
    exactly; the package's float division misses the grid at 0.14, 0.28, 0.56, 0.58 and 0.94 and
    reads the row above or below there.
    """

    def __init__(self, norms: list[BigGANBatchNorm]):
        super().__init__()
        self.sizes = [norm.num_features for norm in norms]
        means = torch.cat([norm.running_means for norm in norms], dim=1)
        inv_stds = torch.cat([1 / torch.sqrt(norm.running_vars + norm.eps) for norm in norms], dim=1)
        self.register_buffer("stats", torch.stack([means, inv_stds], dim=1))  # (n_stats, 2, total)
        gains = [spectral_normalized_weight(norm.scale) for norm in norms]
        offsets = [spectral_normalized_weight(norm.offset) for norm in norms]
        # (cond_dim, 2 * total): cond @ weight streams it row by row, 2.5x faster than F.linear
        # (weight.T) for one image
        self.register_buffer("weight", torch.cat(gains + offsets).T.contiguous())

    def forward(self, cond_vector: Tensor, row: int) -> list[ScaleShift]:
        """Per layer, (scale, shift) of shape (B, C, 1, 1) such that bn(x) = x * scale + shift."""
        mean, inv_std = self.stats[row]
        gain, offset = (cond_vector @ self.weight).chunk(2, dim=1)
        scale = (1 + gain) * inv_std
        shift = offset - mean * scale
        pairs = zip(scale.split(self.sizes, dim=1), shift.split(self.sizes, dim=1))
        return [(s[:, :, None, None], t[:, :, None, None]) for s, t in pairs]


class FoldedBlock(nn.Module):
    """GenBlock with spectral norm folded; its four batch norms arrive as (scale, shift) pairs."""

    def __init__(self, block: GenBlock, size: int):
        """`size`: the input's height and width."""
        super().__init__()
        self.up_sample = block.up_sample
        out_size = 2 * size if self.up_sample else size
        self.conv_0 = folded_conv(block.conv_0, size)
        if self.up_sample:
            weight = upsampled_conv_weight(spectral_normalized_weight(block.conv_1))
            self.conv_1 = FixedConv2d(weight, block.conv_1.bias.detach().repeat(4), 1, size)
        else:
            self.conv_1 = folded_conv(block.conv_1, size)
        self.conv_2 = folded_conv(block.conv_2, out_size)
        self.conv_3 = folded_conv(block.conv_3, out_size)
        self.out_channels = block.conv_3.out_channels

    def forward(self, x: Tensor, norms: list[ScaleShift]) -> Tensor:
        h = self.conv_0(affine_relu(x, norms[0]))
        h = self.conv_1(affine_relu_(h, norms[1]))
        h = self.conv_2(upsampled_affine_relu(h, norms[2]) if self.up_sample else affine_relu_(h, norms[2]))
        h = self.conv_3(affine_relu_(h, norms[3]))
        skip = x[:, : self.out_channels]
        return add_upsampled_(h, skip) if self.up_sample else h.add_(skip)


class FoldedSelfAttention(nn.Module):
    """SelfAttn with its three input projections as one convolution and gamma folded into the output one."""

    def __init__(self, attention: SelfAttn, size: int):
        """`size`: the input's height and width."""
        super().__init__()
        self.key_channels = attention.in_channels // 8
        projections = [attention.snconv1x1_theta, attention.snconv1x1_phi, attention.snconv1x1_g]
        in_weight = torch.cat([spectral_normalized_weight(p) for p in projections])
        self.project_in = FixedConv2d(in_weight, None, 0, size)
        out_weight = attention.gamma.detach() * spectral_normalized_weight(attention.snconv1x1_o_conv)
        self.project_out = FixedConv2d(out_weight, None, 0, size)

    def forward(self, x: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        projected = self.project_in(x)
        query = projected[:, : self.key_channels].permute(0, 2, 3, 1).reshape(batch, height * width, -1)
        pooled = F.max_pool2d(projected[:, self.key_channels :], 2).permute(0, 2, 3, 1).flatten(1, 2)
        key, value = pooled[..., : self.key_channels], pooled[..., self.key_channels :]
        attended = torch.cat([
            torch.bmm(torch.bmm(chunk, key.transpose(1, 2)).softmax(dim=-1), value)
            for chunk in query.split(ATTENTION_QUERY_CHUNK, dim=1)
        ], dim=1)
        attended = attended.view(batch, height, width, -1).permute(0, 3, 1, 2)
        return self.project_out(attended).add_(x)


class FoldedBigGAN(nn.Module):
    """Drop-in for the package's `BigGAN.generator`: (cond_vector, truncation) -> images in [-1, 1].

    The truncation reads the nearest row of the statistics grid; `gan.snap_truncation` puts it on it.
    Holds its own copy of the weights, so the source model may be used or freed independently.
    """

    def __init__(self, model: BigGAN):
        super().__init__()
        generator = model.generator
        self.channels = 16 * generator.config.channel_width
        # transposed like norms.weight, for the same reason
        self.register_buffer("z_weight", spectral_normalized_weight(generator.gen_z).T.contiguous())
        self.register_buffer("z_bias", generator.gen_z.bias.detach().clone())
        blocks = [layer for layer in generator.layers if isinstance(layer, GenBlock)]
        self.norms = BatchNormTable([bn for b in blocks for bn in (b.bn_0, b.bn_1, b.bn_2, b.bn_3)])
        self.layers = nn.ModuleList()
        size = 4
        for layer in generator.layers:
            if isinstance(layer, GenBlock):
                self.layers.append(FoldedBlock(layer, size))
                size *= 2 if layer.up_sample else 1
            else:
                self.layers.append(FoldedSelfAttention(layer, size))
        bn = generator.bn
        rgb_scale = bn.weight.detach() / torch.sqrt(bn.running_vars + bn.eps)  # (n_stats, C)
        rgb_shift = bn.bias.detach() - bn.running_means * rgb_scale
        self.register_buffer("rgb_norm", torch.stack([rgb_scale, rgb_shift], dim=1))  # (n_stats, 2, C)
        rgb = generator.conv_to_rgb
        self.to_rgb = FixedConv2d(spectral_normalized_weight(rgb)[:3], rgb.bias.detach()[:3].clone(), 1, size)

    @property
    def intervals(self) -> int:
        return self.rgb_norm.shape[0] - 1

    def forward(self, cond_vector: Tensor, truncation: float) -> Tensor:
        row = round(truncation * self.intervals)
        norms = self.norms(cond_vector, row)
        x = torch.addmm(self.z_bias, cond_vector, self.z_weight)
        x = x.view(-1, 4, 4, self.channels).permute(0, 3, 1, 2)  # TF layout, so already channels-last
        blocks_done = 0
        for layer in self.layers:
            if isinstance(layer, FoldedBlock):
                x = layer(x, norms[4 * blocks_done : 4 * blocks_done + 4])
                blocks_done += 1
            else:
                x = layer(x)
        scale, shift = self.rgb_norm[row, :, None, :, None, None]
        return torch.tanh(self.to_rgb(affine_relu_(x, (scale, shift)))).contiguous()
