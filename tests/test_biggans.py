from concurrent.futures import ThreadPoolExecutor

import pytest

from mapper.biggans import BigGANs, biggan_names
from mapper.gan import Generator
from mapper.testing import narrow_config, save_random_biggan


@pytest.fixture(scope="module")
def narrow_256_dir(tmp_path_factory):
    return save_random_biggan(tmp_path_factory.mktemp("narrow-256"), narrow_config(256))


def test_only_the_default_loads_at_start_and_another_size_once_on_first_use(tiny_generator, narrow_256_dir):
    loads = []

    def loader(name: str) -> Generator:
        loads.append(name)
        return Generator.from_pretrained(name)

    biggans = BigGANs(tiny_generator, [str(narrow_256_dir)], loader)
    assert biggans.sizes == [32, 256] and biggans.is_loaded(32) and not biggans.is_loaded(256) and not loads
    assert biggans.get(32) is tiny_generator
    with ThreadPoolExecutor(4) as pool:  # four first requests at once: one load
        generators = list(pool.map(lambda _: biggans.get(256), range(4)))
    assert loads == [str(narrow_256_dir)] and all(g is generators[0] for g in generators)
    assert generators[0].image_size == 256 and biggans.is_loaded(256)


def test_a_refused_generator_stays_unloaded(tiny_generator, narrow_256_dir):
    biggans = BigGANs(tiny_generator, [narrow_256_dir])

    def refuse(generator: Generator) -> None:
        raise ValueError("not for this mapper")

    with pytest.raises(ValueError, match="not for this mapper"):
        biggans.get(256, refuse)
    assert not biggans.is_loaded(256)
    with pytest.raises(ValueError, match="no BigGAN draws 64 x 64 images here: 32, 256 only"):
        biggans.get(64)


def test_two_biggans_of_one_size_or_a_missing_folder_are_refused_at_start(tiny_generator, tiny_biggan_dir, tmp_path):
    with pytest.raises(ValueError, match="both draw 32 x 32 images"):
        BigGANs(tiny_generator, [tiny_biggan_dir])
    with pytest.raises(FileNotFoundError, match="BigGAN folder not found"):
        BigGANs(tiny_generator, [str(tmp_path / "nowhere")])


def test_names_are_a_list_or_joined_by_commas():
    assert biggan_names("biggan-deep-256, biggan-deep-128") == ["biggan-deep-256", "biggan-deep-128"]
    assert biggan_names(["./a"]) == ["./a"]
    for bad in ("", "biggan-deep-128,", []):
        with pytest.raises(ValueError, match="names or folders separated by commas"):
            biggan_names(bad)
