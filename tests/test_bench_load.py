"""bench.load in a tiny run: the small mapper and the tiny BigGAN, a few clients (the README quotes a full run)."""
import json

from bench import load


def test_a_tiny_load_run_answers_or_refuses_every_request_and_reports_its_figures(
    small_mapper_dir, tiny_biggan_real_z_dir, minilm_path, tmp_path, capsys
):
    out = tmp_path / "load.json"
    figures = load.main([
        "--clients", "4", "--requests", "40", "--mapper", str(small_mapper_dir),
        "--biggan", str(tiny_biggan_real_z_dir), "--encoder", minilm_path, "--workdir", str(tmp_path / "work"), "--json", str(out),
    ])
    # 10% bad, each refused with its own message; 5% walked away from; none lost
    assert figures["results"] == {"answered": 34, "refused": 4, "disconnected": 2} and figures["lost"] == []
    assert figures["images"] >= 34 and figures["images_per_s"] > 0 and figures["throughput_ratio"] > 0
    assert list(figures["server_rss_bytes"]) == ["0", "40"] and figures["forward_batch1_s"]["count"] == 20
    assert json.loads(out.read_text())["results"] == figures["results"]
    printed = capsys.readouterr().out
    assert "answered 34, refused 4, disconnected 2, lost 0" in printed and "ratio" in printed
