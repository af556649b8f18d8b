"""The benches that write the report's JSON, the figures drawn from it, and the gallery script."""
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from bench import gallery, generator, latency, mapper_quality, word_weights
from mapper.dataset import load_dataset
from mapper.models import Mapper
from mapper.pipeline import TextToImagePipeline
from mapper.pipeline import read_text
from mapper.testing import narrow_config
from mapper.training import evaluate_splits
from tests.conftest import ROOT


def test_mapper_quality_json_holds_every_row_and_scores_a_trained_folder(small_dataset_dir, small_mapper_dir, tmp_path):
    out = tmp_path / "quality.json"
    # 3 epochs: no row can train exactly 10 steps, where OneCycleLR (pct_start 0.1) divides by zero
    mapper_quality.main(["--dataset", str(small_dataset_dir), "--arch", "linear", "--mapper-dirs", str(small_mapper_dir),
                         "--ablation", "--ablation-arch", "classifier", "--ablation-epochs", "3", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["command"].startswith("python -m bench.mapper_quality --dataset")
    names = [(r["arch"], r["variant"]) for r in report["mappers"]]
    assert names == [("retrieval", "full"), ("retrieval", "full"), ("linear", "full"),
                     ("windowed", "full"), ("windowed", "without memory"), ("windowed", "csls")]
    loaded = report["mappers"][3]
    expected = evaluate_splits(Mapper.from_pretrained(small_mapper_dir), load_dataset(small_dataset_dir))
    assert loaded["metrics"] == expected
    assert loaded["parameters"] == Mapper.from_pretrained(small_mapper_dir).num_parameters()
    rows = report["ablation"]["rows"]
    assert [r["name"] for r in rows] == list(mapper_quality.ABLATION)
    assert rows[0]["sources"] == ["name"] and set(rows[-1]["sources"]) > set(rows[-2]["sources"])


def test_word_weights_are_what_read_gives_with_its_top_class_and_group(minilm, small_mapper_dir):
    mapper = Mapper.from_pretrained(small_mapper_dir)
    cat, dog = word_weights.word_weights(minilm, mapper, ["Beside the sofa stood a tabby cat.", "A dog playing with a ball"])
    assert [w for w, _ in cat["words"]] == ["Beside", "the", "sofa", "stood", "a", "tabby", "cat", "."]
    assert sum(w for _, w in cat["words"]) == pytest.approx(1, abs=1e-3)
    assert cat["top_class"] in {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
    reading = read_text(minilm, mapper, dog["text"])[1].to_json()
    assert dog["words"] == reading["words"] and dog["group"] == reading["group"]
    assert [dog["top_class"], dog["top_probability"]] == reading["classes"][0][1:]


def test_latency_summary_skips_the_warm_up_and_pairs_each_call_with_its_forward():
    warm = [{"encode": 9.0, "forward": 9.0}] * latency.WARM_UP
    per_stage = {1: warm + [{"encode": 0.010, "forward": 0.100}] * 3, 4: warm + [{"encode": 0.012, "forward": 0.400}] * 3}
    e2e = {("pipeline", 1): ([0.12, 0.13, 0.50], [0.10, 0.10, 0.40]), ("pipeline", 4): ([0.44], [0.40])}
    report = latency.summary(per_stage, e2e, cold_start=12.345, peak=2**30)
    assert report["stages_ms"]["1"] == {"encode": 10.0, "forward": 100.0, "sum": 110.0}
    assert report["stages_ms"]["4"]["sum"] == 412.0
    first = report["end_to_end_ms"][0]
    assert first == {"path": "pipeline", "images": 1, "p50": 130.0, "p95": 500.0, "forward": 100.0, "ratio": 1.25}
    assert report["forward_4_over_4x1"] == 1.0 and report["cold_start_s"] == 12.35


def test_gallery_draws_every_text_with_its_image_and_readout(small_mapper_dir, tiny_biggan_real_z_dir, minilm_path,
                                                              tmp_path):
    out = gallery.main(["--biggan", str(tiny_biggan_real_z_dir), "--mapper", str(small_mapper_dir),
                        "--encoder", minilm_path, "--out", str(tmp_path / "grid.png"), "--seed", "3", "--columns", "4"])
    grid = Image.open(out)
    texts = [*gallery.EXAMPLES, *gallery.HARD_CASES]
    height = gallery.CELL + gallery.CAPTION_LINES * gallery.LINE_HEIGHT + 8
    assert grid.size == (4 * gallery.CELL, -(-len(texts) // 4) * height)
    pipe = TextToImagePipeline.from_pretrained(str(small_mapper_dir), str(tiny_biggan_real_z_dir), minilm_path)
    for i in (0, len(texts) - 1):  # the first and the last tile are those texts' images, seed 3
        image = pipe(texts[i], seed=3).images[0].resize((gallery.CELL, gallery.CELL), Image.Resampling.NEAREST)
        x, y = (i % 4) * gallery.CELL, (i // 4) * height
        assert np.array_equal(np.asarray(grid.crop((x, y, x + gallery.CELL, y + gallery.CELL))), np.asarray(image))
    lines, readout = gallery.caption("a tabby cat", pipe("a tabby cat").classes)
    assert lines == ['"a tabby cat"'] and readout[0].startswith(pipe("a tabby cat").classes[0][0])



def test_generator_json_records_every_batch_and_dtype(monkeypatch, tmp_path):
    monkeypatch.setattr(generator, "DEEP128_CONFIG", generator.TINY_BIGGAN_CONFIG)  # the same code, seconds not minutes
    monkeypatch.setattr(generator, "MATMUL_SIZE", 64)
    generator.main(["--repeats", "1", "--json", str(tmp_path / "generator.json")])
    report = json.loads((tmp_path / "generator.json").read_text())
    assert report["command"] == f"python -m bench.generator --repeats 1 --json {tmp_path / 'generator.json'}"
    assert [b["batch"] for b in report["batches"]] == [1, 4]
    assert all(b["eager_s"] > 0 and b["folded_s"] > 0 for b in report["batches"])
    assert report["max_diff_folded_eager"] < 1e-3
    assert report["gflops_per_image"]["folded"] < report["gflops_per_image"]["eager"]
    assert [d["dtype"] for d in report["dtypes"]] == ["float32", "float16", "bfloat16"]
    assert all((d["eager_s"] is None) != d["native"] for d in report["dtypes"])  # timed exactly where native


def test_figures_are_rebuilt_from_the_committed_json_alone_byte_for_byte(tmp_path):
    """No model is imported, and redrawing gives the committed PNGs (no timestamp in them)."""
    script = ("import sys, bench.figures as f; f.main(['--out', sys.argv[1]]); "
              "assert not {'torch', 'transformers'} & set(sys.modules), 'a model library was imported'")
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, check=True, capture_output=True)
    drawn = sorted(tmp_path.glob("*.png"))
    assert [p.name for p in drawn] == sorted(p.name for p in (ROOT / "docs" / "figures").glob("*.png"))
    for png in drawn:
        assert png.stat().st_size < 200_000
        assert png.read_bytes() == (ROOT / "docs" / "figures" / png.name).read_bytes(), png.name


def test_encoder_cost_times_each_encoder_per_turn_against_the_first(minilm, tmp_path, monkeypatch):
    from bench import encoder_cost

    texts = ["a tabby cat", "A red fox trotted across the frozen field at dawn."]
    rows = encoder_cost.measure([minilm, minilm], texts, threads=1, rounds=3)
    assert [(r["encoder"], r["threads"], r["sentences"]) for r in rows] == [(minilm.name_or_path, 1, 6 - encoder_cost.WARM_UP)] * 2
    assert rows[0]["ratio_to_first"] == 1.0 and 0 < rows[0]["p50_ms"] <= rows[0]["p95_ms"]
    sentences = tmp_path / "sentences.jsonl"
    sentences.write_text("".join(json.dumps({"text": t, "labels": [0]}) + "\n" for t in texts * 2))
    monkeypatch.setattr(encoder_cost, "SENTENCES", sentences)
    out = tmp_path / "cost.json"
    assert encoder_cost.main([minilm.name_or_path, "--threads", "1", "2", "--rounds", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [(r["threads"], r["sentences"]) for r in report["rows"]] == [(1, 1), (2, 1)] and report["sizes"][minilm.name_or_path]["hidden"] == 384
    assert encoder_cost.main([str(tmp_path / "no-such-encoder")]) == 1


def test_latency_size_times_that_biggan_deep_and_refuses_one_not_served(
    monkeypatch, tmp_path, minilm_path, small_mapper_dir
):
    # narrow_config: the real 256 layout at 4 channels, so the same files as the full config load in seconds
    monkeypatch.setattr(latency, "DEEP_CONFIGS", {size: narrow_config(size) for size in (128, 256, 512)})
    args = latency.parse_args(["--size", "256", "--encoder", minilm_path, "--mapper", str(small_mapper_dir),
                               "--workdir", str(tmp_path)])
    pipeline, biggan, _ = latency.load(args, args.size)
    assert biggan.name.startswith("biggan-deep-256-")
    assert pipeline("a tabby cat", seed=0).images[0].size == (256, 256)
    with pytest.raises(SystemExit):
        latency.parse_args(["--size", "100"])


def test_retrieval_baseline_is_the_nearest_class_mean_whatever_the_seed(small_dataset_dir):
    dataset = load_dataset(small_dataset_dir)
    assert dataset.has_outside  # the heads a classifier would get, and the baseline must not
    hidden, mask = dataset.batch(dataset.split_indices("heldout_template")[:64])
    readings = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        baseline = mapper_quality.retrieval_baseline(dataset, descriptions=False)
        readings.append(baseline.class_probabilities(hidden, mask))
    assert torch.equal(readings[0], readings[1])
    pooled = F.normalize(baseline.features(hidden, mask), dim=-1)
    nearest = (pooled @ baseline.head.prototypes.T).argmax(-1)
    assert torch.equal(readings[0].argmax(-1), nearest)


def test_latency_page_client_sends_every_input_the_page_does_and_gets_its_pngs(app_server):
    url, _ = app_server
    page = latency.PageClient(url)
    assert page.defaults[5:] == [False, 128]  # per-image classes off, the default BigGAN's size
    pngs = page("a tabby cat", 3, 2)
    assert [Image.open(io.BytesIO(png)).size for png in pngs] == [(128, 128)] * 2
