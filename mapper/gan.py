"""BigGAN-deep as a text-free generator: class vector + seeded noise + truncation -> image."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pytorch_pretrained_biggan import BigGAN, BigGANConfig
from pytorch_pretrained_biggan.utils import truncated_noise_sample

from mapper.fast_generator import FoldedBigGAN

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "pytorch_model.bin"
# The package's own 2019 S3 links are gone; these Hub repos hold the same two files.
HUB_REPOS = {
    "biggan-deep-128": "osanseviero/BigGAN-deep-128",
    "biggan-deep-256": "osanseviero/BigGAN-deep-256",
    "biggan-deep-512": "osanseviero/BigGAN-deep-512",
}
# Their images' size (config.json's output_dim), known before any download.
HUB_IMAGE_SIZES = {"biggan-deep-128": 128, "biggan-deep-256": 256, "biggan-deep-512": 512}
DEFAULT_BIGGAN = "biggan-deep-128"
MAX_SEED = 2**32 - 1  # numpy's RandomState accepts [0, 2**32)
# The start-up check of the folded generator against eager catches wiring errors (differences of
# order 0.1), not rounding: 1e-6 on CPU in fp32, more where a GPU's convolutions run in TF32.
FOLDED_CHECK_TOLERANCE = 1e-2


class BrokenImageError(RuntimeError):
    """The generator made an image with values that are not finite or outside [-1, 1]: never served."""


def image_fault(images: torch.Tensor) -> str | None:
    """What is wrong with a batch of images that should lie in [-1, 1], or None. (Cast to 8 bits, NaN reads
    as black: a broken generator would otherwise serve black squares as if they were pictures.)"""
    if not (finite := torch.isfinite(images)).all():
        return f"{(~finite).sum().item():,} of {images.numel():,} values are not finite"
    if (peak := images.abs().max().item()) > 1:
        return f"values reach {peak:.3g}, outside [-1, 1]"
    return None


def snap_truncation(truncation: float, n_stats: int = 51) -> float:
    """Nearest truncation on the grid where BigGAN stored its batch-norm statistics.

    Off the grid the package interpolates with the weights the wrong way round. (At 0.14, 0.28,
    0.56, 0.58 and 0.94, float division still lands a hair off the grid and the eager model reads
    the neighbouring point's statistics; no float value avoids that. The folded generator reads
    the exact point.)
    """
    if not 0 < truncation <= 1:
        raise ValueError(f"truncation must be in (0, 1], got {truncation}")
    intervals = n_stats - 1
    return max(1, round(truncation * intervals)) / intervals


def resolve_biggan(name_or_path: str | Path, revision: str | None = None) -> Path:
    """A local folder holding config.json + pytorch_model.bin, downloading a named model (at `revision` of its Hub
    repo: a branch, tag or commit; default main) if needed."""
    name = str(name_or_path)
    folder = Path(name).expanduser()
    if name in HUB_REPOS and not folder.is_dir():
        from huggingface_hub import snapshot_download

        try:
            files = [CONFIG_NAME, WEIGHTS_NAME]
            return Path(snapshot_download(HUB_REPOS[name], allow_patterns=files, revision=revision))
        except Exception as err:  # noqa: BLE001 - every Hub failure gets the same advice
            at = f" at revision {revision!r}" if revision else ""
            raise OSError(
                f"could not download {name} from the Hub repo {HUB_REPOS[name]}{at} "
                f"({err.__class__.__name__}); pass a local folder with {CONFIG_NAME} and {WEIGHTS_NAME}"
            ) from None
    if not folder.is_dir():
        if "/" in name or "\\" in name or name.startswith("."):
            raise FileNotFoundError(f"BigGAN folder not found: {name}")
        raise ValueError(f"unknown BigGAN {name!r}: use one of {sorted(HUB_REPOS)} or a local folder")
    missing = [f for f in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"BigGAN folder {folder} lacks {', '.join(missing)}")
    return folder


def biggan_image_size(name_or_path: str | Path) -> int:
    """The size of the images a BigGAN draws, without loading (or, for a known name, downloading) it."""
    name = str(name_or_path)
    if name in HUB_IMAGE_SIZES and not Path(name).expanduser().is_dir():
        return HUB_IMAGE_SIZES[name]
    config = resolve_biggan(name) / CONFIG_NAME
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["output_dim"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"BigGAN config {config} gives no image size (output_dim): {err}") from None


def load_biggan(folder: Path) -> BigGAN:
    """Load like `BigGAN.from_pretrained(folder)`, but refuse a checkpoint that leaves weights unset.

    The package loads with strict=False, which turns a wrong or truncated checkpoint into a
    generator of noise. Weights come from the Hub, so they are unpickled with weights_only.
    """
    model = BigGAN(BigGANConfig.from_json_file(folder / CONFIG_NAME))
    state = torch.load(folder / WEIGHTS_NAME, map_location="cpu", weights_only=True)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys:
        raise ValueError(
            f"{folder / WEIGHTS_NAME} does not match its config: {len(result.missing_keys)} weights "
            f"missing, e.g. {result.missing_keys[:3]}"
        )
    return model.eval()


class Generator:
    """BigGAN-deep with the knobs the demo needs: class vectors, truncation, seed.

    At construction the package's eager generator draws one image from a fixed input, and a checkpoint
    whose image is broken (not finite, or outside [-1, 1]) is refused. By default it then runs
    `FoldedBigGAN` (mapper.fast_generator: the same function for less work; see "Generator speed" in
    the README), checked against that image, which also pays the first call's set-up cost; if it
    cannot be built or disagrees, it logs why and runs eager.
    """

    def __init__(self, model: BigGAN, name_or_path: str, optimize: bool = True):
        self.model = model.eval().requires_grad_(False)
        self.name_or_path = name_or_path
        # (cond_vector, truncation) -> images: the folded generator or the package's own.
        self.network: FoldedBigGAN | torch.nn.Module = self.model.generator
        cond_vector = torch.cat([self.noise(1, 0.4, seed=0), self.class_embeddings[:1]], dim=1)
        with torch.inference_mode():
            reference = self.model.generator(cond_vector, 0.4)
        if fault := image_fault(reference):
            raise ValueError(
                f"BigGAN {name_or_path}: its image for a fixed input is broken ({fault}); the checkpoint is "
                "corrupt or wrongly converted, not serving it"
            )
        if optimize:
            self.network = self.checked_folded_network(cond_vector, reference)
        logger.info("BigGAN %s on %s: %s generator", name_or_path, self.device, "folded" if self.optimized else "eager")

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path = DEFAULT_BIGGAN, device: str | None = None, optimize: bool = True,
        revision: str | None = None,
    ) -> Generator:
        """Load by name (at `revision` of its Hub repo) or folder, onto `device` (default: cuda when available,
        else cpu).

        Weights stay fp32 on a GPU too: a forward takes milliseconds there, and half precision
        would give up the outputs' agreement with the reference model.
        """
        model = load_biggan(resolve_biggan(name_or_path, revision))
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(model.to(device), str(name_or_path), optimize)

    @property
    def optimized(self) -> bool:
        return self.network is not self.model.generator

    def checked_folded_network(
        self, cond_vector: torch.Tensor, reference: torch.Tensor
    ) -> FoldedBigGAN | torch.nn.Module:
        """The folded generator if it builds and matches eager's `reference` image, else eager (logged)."""
        try:
            folded = FoldedBigGAN(self.model)
            with torch.inference_mode():
                difference = (folded(cond_vector, 0.4) - reference).abs().max().item()
            if not difference <= FOLDED_CHECK_TOLERANCE:
                raise ValueError(f"its image differs from eager's by up to {difference:.3g}")
        except Exception as err:  # noqa: BLE001 - any failure of the fast path falls back to the reference
            logger.warning("BigGAN: folded generator unavailable (%s: %s); running eager", type(err).__name__, err)
            return self.model.generator
        return folded

    @property
    def device(self) -> torch.device:
        return self.model.embeddings.weight.device

    @property
    def image_size(self) -> int:
        return self.model.config.output_dim

    @property
    def class_embeddings(self) -> torch.Tensor:
        """(1000, 128): row i is the vector BigGAN feeds itself for ImageNet class i."""
        return self.model.embeddings.weight.detach().T

    def noise(self, batch_size: int, truncation: float, seed: int) -> torch.Tensor:
        """Truncated-normal noise, identical for the same (batch_size, truncation, seed)."""
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
        z = truncated_noise_sample(batch_size, self.model.config.z_dim, truncation, seed)
        return torch.from_numpy(z).float().to(self.device)

    @torch.inference_mode()
    def generate(self, class_vectors: torch.Tensor, truncation: float = 0.4, seed: int = 0) -> torch.Tensor:
        """(batch, 128) class vectors -> (batch, 3, H, W) images in [-1, 1]; BrokenImageError if they are not."""
        truncation = snap_truncation(truncation, self.model.config.n_stats)
        return self.draw(self.noise(len(class_vectors), truncation, seed), class_vectors, truncation)

    @torch.inference_mode()
    def draw(self, noise: torch.Tensor, class_vectors: torch.Tensor, truncation: float) -> torch.Tensor:
        """generate() with the noise given (a morph moves it between two seeds'); `truncation` already snapped."""
        cond_vector = torch.cat([noise.to(self.device, torch.float32), class_vectors.to(self.device, torch.float32)], 1)
        images = self.network(cond_vector, truncation)
        if fault := image_fault(images):
            raise BrokenImageError(f"BigGAN {self.name_or_path} made a broken image ({fault})")
        return images


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """(batch, 3, H, W) in [-1, 1] -> RGB PIL images."""
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [Image.fromarray(np.ascontiguousarray(p.permute(1, 2, 0).cpu().numpy())) for p in pixels]
