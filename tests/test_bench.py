"""The benches that write the report's JSON, the figures drawn from it, and the gallery script."""
import json

from bench import mapper_quality
from mapper.dataset import load_dataset
from mapper.models import Mapper
from mapper.training import evaluate_splits


def test_mapper_quality_json_holds_every_row_and_scores_a_trained_folder(small_dataset_dir, small_mapper_dir, tmp_path):
    out = tmp_path / "quality.json"
    mapper_quality.main(["--dataset", str(small_dataset_dir), "--arch", "linear", "--mapper-dirs", str(small_mapper_dir),
                         "--ablation", "--ablation-arch", "classifier", "--ablation-epochs", "1", "--json", str(out)])
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
