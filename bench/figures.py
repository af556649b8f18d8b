"""The report's figures, drawn from the JSON the benches wrote; no model runs.

    python -m bench.figures [--data docs/figures] [--out docs/figures]

Reads mapper_quality.json and mapper_default.json (bench.mapper_quality --json), latency.json
(bench.latency --json), generator.json (bench.generator --json), word_weights.json (bench.word_weights
--json) and each encoder's runs on sentences version 5 (ENCODER_RUNS) from --data, and writes one small PNG
per figure to --out. mapper_recorded.json is the mapper table of one earlier bench.mapper_quality run,
transcribed because retraining every architecture is not cheap: it gives the rows no re-run has (adapter,
contextual) and, being one run, the training times compared. Each JSON names the command that made it; the
PNGs carry no timestamp, so redrawing unchanged JSON gives the same files.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
import numpy as np  # noqa: E402

DOCS_FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"
SPLITS = {  # column in the JSON -> axis label
    "heldout_template": "held-out\ntemplates",
    "heldout_gloss": "held-out\ndefinitions",
    "dev_natural": "dev_natural",
    "probe_sentences": "probe",
    "everyday_sentences": "everyday",
}
DPI = 100
PNG_METADATA = {"Software": None}  # no matplotlib version stamp: the same JSON gives the same bytes


def load(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text())


def short(name: str) -> str:
    """A mapper row's name, short enough for a legend."""
    if name.startswith("retrieval"):
        return "retrieval, " + ("descriptions" if "descriptions" in name else "class means")
    return name.split(" (")[0]


def full_rows(data: Path, name: str) -> list[dict]:
    """A bench JSON's mapper rows with their memory and plain readout (not the memory-less or CSLS variants)."""
    return [r for r in load(data, name)["mappers"] if r["variant"] == "full"]


def mapper_rows(data: Path) -> list[dict]:
    """Re-run rows (the trained mappers, then the default one), then recorded rows of architectures not re-run."""
    rows = full_rows(data, "mapper_quality.json")
    rows += [r for r in full_rows(data, "mapper_default.json") if r["arch"] != "retrieval"]
    rerun = {r["arch"] for r in rows}
    return rows + [{**r, "recorded": True} for r in full_rows(data, "mapper_recorded.json") if r["arch"] not in rerun]


def save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, metadata=PNG_METADATA, bbox_inches="tight")  # legends outside the axes too
    plt.close(fig)
    return path


def mappers_figure(data: Path, out: Path) -> Path:
    """Grouped bars: top-1 of each mapper on every split."""
    rows = mapper_rows(data)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(rows)
    x = np.arange(len(SPLITS))
    for i, row in enumerate(rows):
        values = [row["metrics"][split]["top1"] for split in SPLITS]
        label = short(row["name"]) + (" (recorded)" if row.get("recorded") else "")
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, values, width, label=label, color=plt.cm.tab10(i),
               hatch="///" if row.get("recorded") else None,
               edgecolor="black" if row["arch"] == "windowed" else "white" if row.get("recorded") else "none")
    ax.set_xticks(x, list(SPLITS.values()), fontsize=8)
    ax.set_ylabel("top-1")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    ax.set_title("Mappers on every split (top-1; outlined: the default)", fontsize=10)
    fig.tight_layout()
    return save(fig, out / "mappers.png")


def ablation_figure(data: Path, out: Path) -> Path:
    """One line per split: top-1 as the training sentences grow source by source."""
    ablation = load(data, "mapper_quality.json")["ablation"]
    rows = ablation["rows"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for i, (split, label) in enumerate(SPLITS.items()):
        ax.plot(range(len(rows)), [r["metrics"][split]["top1"] for r in rows], marker="o", ms=3,
                label=label.replace("\n", " "), color=plt.cm.tab10(i))
    ax.set_xticks(range(len(rows)), [r["name"].replace(" (all)", "") for r in rows], rotation=25, ha="right", fontsize=7)
    ax.set_ylabel("top-1")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(f"What each source buys ({ablation['arch']}, {ablation['epochs']} epochs per row)", fontsize=10)
    fig.tight_layout()
    return save(fig, out / "ablation.png")


def latency_figure(data: Path, out: Path) -> Path:
    """One stacked bar per batch size: the median milliseconds of each stage of a request."""
    latency = load(data, "latency.json")
    batches = list(latency["stages_ms"])
    stages = [s for s in latency["stages_ms"][batches[0]] if s != "sum"]
    fig, ax = plt.subplots(figsize=(7, 2.6), layout="constrained")
    for b_i, batch in enumerate(batches):
        left = 0.0
        for s_i, stage in enumerate(stages):
            ms = latency["stages_ms"][batch][stage]
            ax.barh(b_i, ms, left=left, color=plt.cm.tab10(s_i), label=stage if b_i == 0 else None)
            left += ms
        ax.text(left + 5, b_i, f"{left:.0f} ms", va="center", fontsize=8)
    ax.set_yticks(range(len(batches)), [f"{b} image{'s' * (b != '1')}" for b in batches], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("median ms per request, by stage")
    ax.set_xlim(0, max(latency["stages_ms"][b]["sum"] for b in batches) * 1.15)
    fig.legend(fontsize=7, ncol=3, loc="outside lower center", frameon=False)
    ax.set_title(f"Where the time of one request goes ({latency['device'].split(' (')[0].upper()}, "
                 f"random-weight BigGAN)", fontsize=10)
    return save(fig, out / "latency.png")


def word_weights_figure(data: Path, out: Path) -> Path:
    """Heat map over the words of each sentence: the pooling's weight, and the mapper's top class."""
    rows = load(data, "word_weights.json")["sentences"]
    width = max(len(r["words"]) for r in rows)
    grid = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        grid[i, : len(row["words"])] = [w for _, w in row["words"]]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 0.7))
    ax.imshow(grid, cmap="Oranges", vmin=0, vmax=np.nanmax(grid), aspect="auto")
    for i, row in enumerate(rows):
        for j, (word, weight) in enumerate(row["words"]):
            color = "white" if weight > 0.6 * np.nanmax(grid) else "black"
            ax.text(j, i, f"{word}\n{weight:.2f}", ha="center", va="center", fontsize=7, color=color)
        group = f"\n   group: {row['group']['name']} {row['group']['p']:.2f}" if row["group"] else ""
        ax.text(width - 0.4, i, f"-> {row['top_class']} {row['top_probability']:.2f}{group}", va="center", fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlim(-0.5, width + 2.6)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title("Where windowed looks: its pooling weight per word, and its top class", fontsize=10)
    fig.tight_layout()
    return save(fig, out / "word_weights.png")


def tradeoff_figure(data: Path, out: Path) -> Path:
    """Top-1 on held-out templates and dev_natural against training time and parameters, per mapper.

    From the recorded table alone: its training times come from one run, where re-runs shared the CPU
    with other jobs to different degrees.
    """
    rows = [r for r in full_rows(data, "mapper_recorded.json") if r["arch"] != "retrieval"]
    colors = [plt.cm.tab10(i + 2) for i in range(len(rows))]
    fig, axes = plt.subplots(1, 2, figsize=(7, 3), sharey=True)
    for ax, key, label in ((axes[0], "seconds", "training seconds (one run, this CPU)"), (axes[1], "parameters", "parameters")):
        for split, marker in (("heldout_template", "o"), ("dev_natural", "s")):
            ax.scatter([r[key] for r in rows], [r["metrics"][split]["top1"] for r in rows], marker=marker, s=24, c=colors)
        ax.set_xscale("log")
        ax.set_xlabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("top-1")
    axes[0].set_ylim(0.4, 1.04)
    handles = [plt.Line2D([], [], ls="", marker="o", color=color, label=r["arch"]) for r, color in zip(rows, colors)]
    fig.legend(handles=handles, fontsize=7, ncol=len(rows), loc="upper center", bbox_to_anchor=(0.5, 0.02), frameon=False)
    fig.suptitle("Top-1 against cost (circles: held-out templates, squares: dev_natural)", fontsize=10)
    fig.tight_layout()
    return save(fig, out / "tradeoff.png")


ENCODER_RUNS = {  # encoder -> its version 5 JSONs; a row's first appearance wins (the default before its retune)
    "all-MiniLM-L6-v2": ["retrieval_minilm_v5.json", "mapper_minilm_v5.json", "mapper_minilm_v5_contextual.json"],
    "all-mpnet-base-v2": ["retrieval_mpnet5.json", "mapper_mpnet5.json", "mapper_mpnet5_contextual.json"],
}


def encoders_figure(data: Path, out: Path) -> Path:
    """One panel per split: each mapper's top-1 on one encoder's hidden states beside the other's."""
    tables: dict[str, dict[str, dict]] = {}
    for encoder, names in ENCODER_RUNS.items():
        table = tables[encoder] = {}
        for row in (row for name in names for row in full_rows(data, name)):
            table.setdefault(short(row["name"]), row)
    mappers = [m for m in tables["all-MiniLM-L6-v2"] if all(m in table for table in tables.values())]
    splits = {**SPLITS, "imagenet_prompts": "ImageNet\nprompts"}
    fig, axes = plt.subplots(2, 3, figsize=(8, 4.2), sharex=True, sharey=True)
    x = np.arange(len(mappers))
    for ax, (split, label) in zip(axes.flat, splits.items()):
        for i, (encoder, table) in enumerate(tables.items()):
            ax.bar(x + (i - 0.5) * 0.4, [table[m]["metrics"][split]["top1"] for m in mappers], 0.4,
                   label=encoder, color=plt.cm.tab10(i))
        ax.set_title(label.replace("\n", " "), fontsize=8)
        ax.set_xticks(x, mappers, rotation=60, ha="right", fontsize=6)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("top-1", fontsize=8)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=7, ncol=2, loc="upper center",
               bbox_to_anchor=(0.5, 0.95), frameon=False)
    fig.suptitle("Each mapper on each encoder (sentences version 5)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save(fig, out / "encoders.png")


def generator_figure(data: Path, out: Path) -> Path:
    """Seconds per batch, eager against folded generator."""
    generator = load(data, "generator.json")
    batches = generator["batches"]
    fig, ax = plt.subplots(figsize=(5, 2.4))
    x = np.arange(len(batches))
    for offset, key, label in ((-0.2, "eager_s", "eager (the package)"), (0.2, "folded_s", "folded (fast_generator)")):
        values = [b[key] for b in batches]
        ax.bar(x + offset, values, 0.4, label=label)
        for xi, v in zip(x, values):
            ax.text(xi + offset, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [f"batch {b['batch']}" for b in batches], fontsize=8)
    ax.set_ylabel("seconds (median)")
    ax.legend(fontsize=7)
    ax.set_title(f"biggan-deep-128 forward, {generator['threads']} CPU threads, random weights", fontsize=10)
    fig.tight_layout()
    return save(fig, out / "generator.png")


FIGURES: list[Callable[[Path, Path], Path]] = [
    mappers_figure, ablation_figure, tradeoff_figure, latency_figure, word_weights_figure, generator_figure,
    encoders_figure,
]


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DOCS_FIGURES, help="folder of the benches' JSON (default %(default)s)")
    parser.add_argument("--out", type=Path, default=DOCS_FIGURES, help="folder for the PNGs (default %(default)s)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [figure(args.data, args.out) for figure in FIGURES]
    for path in written:
        print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")
    return written


if __name__ == "__main__":
    main()
