import json

import numpy as np
import pytest
import torch

import build_dataset
from mapper.dataset import load_class_embeddings, load_dataset
from mapper.fingerprint import tensor_sha256
from mapper.sentences import HELDOUT_OUTSIDE, SPLITS
from tests.conftest import SMALL_CLASSES


def test_small_build_round_trips(small_dataset_dir, deep128_embeddings, minilm):
    ds = load_dataset(small_dataset_dir)
    m = ds.manifest
    assert m["classes_covered"] >= len(SMALL_CLASSES) and m["sentences"] == len(ds.sentences)
    assert m["encoder_sha256"] == minilm.fingerprint and m["hidden_size"] == 384
    assert m["z_sha256"] == tensor_sha256(load_class_embeddings(deep128_embeddings))
    assert torch.equal(ds.class_embeddings, torch.from_numpy(np.load(deep128_embeddings)))
    assert ds.offsets[-1] == len(ds.tokens) == m["tokens"] and ds.tokens.dtype == torch.float16
    assert set(m["splits"]) <= set(SPLITS) and m["splits"]["train"] > 0 and m["splits"][HELDOUT_OUTSIDE] > 0
    assert json.loads((small_dataset_dir / "manifest.json").read_text()) == m


def test_stored_states_are_the_encoders(small_dataset_dir, minilm):
    ds = load_dataset(small_dataset_dir)
    i = next(i for i, s in enumerate(ds.sentences) if s.class_index == 281)
    hidden, _ = ds.batch([i])
    fresh = minilm.encode([ds.sentences[i].text])
    assert hidden.shape == fresh.hidden_states.shape
    assert torch.allclose(hidden, fresh.hidden_states, atol=2e-2)  # float16 storage


def run(args, capsys):
    code = build_dataset.main(args)
    return code, capsys.readouterr().err.strip().splitlines()


def test_bad_inputs_fail_with_one_line(tmp_path, capsys, minilm_path, deep128_embeddings, wordnet_data):
    bad_z = tmp_path / "bad.npy"
    np.save(bad_z, np.zeros((10, 128), dtype=np.float32))
    cases = {
        "class embeddings must be (1000, 128)": ["--class-embeddings", str(bad_z), "--encoder", minilm_path],
        "encoder folder not found": ["--class-embeddings", str(deep128_embeddings), "--encoder", str(tmp_path / "x")],
        "unknown BigGAN": ["--biggan", "biggan-huge", "--encoder", minilm_path],
    }
    for message, args in cases.items():
        out = tmp_path / "out"
        code, err = run(["--out", str(out), "--classes", "1", *args], capsys)
        assert code == 1 and len(err) == 1 and message in err[0], err
        assert not out.exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, err = run(["--out", str(blocker / "sub"), "--class-embeddings", str(deep128_embeddings)], capsys)
    assert code == 1 and len(err) == 1 and "a-file" in err[0]


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_dataset.main(["--help"])
    assert exit_info.value.code == 0 and "--class-embeddings" in capsys.readouterr().out


def test_without_datasets_the_build_stops_at_once_with_one_line(tmp_path, capsys, monkeypatch):
    """`datasets` is a requirement of the scripts, not of the app: a machine set up for the app only is told so
    before any encoding, and nothing is written."""
    import sys

    import mapper

    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets raises ImportError
    monkeypatch.delitem(sys.modules, "mapper.hub_dataset", raising=False)  # imported anew, as on such a machine
    monkeypatch.delattr(mapper, "hub_dataset", raising=False)
    code, err = run(["--out", str(tmp_path / "data"), "--encoder", str(tmp_path / "never-read")], capsys)
    assert code == 1 and len(err) == 1
    assert err[0].startswith("build_dataset: error: the seed dictionary needs `datasets`")
    assert err[0].endswith("pip install -r requirements-dev.txt") and not (tmp_path / "data").exists()
