"""Train a mapper (encoder hidden states -> BigGAN class vector) on a folder made by build_dataset.py, or on the
seed dictionary as a Hugging Face dataset (its OUT/hf_dataset folder, or a Hub dataset id), which is encoded with
--encoder once and cached; save it as safetensors + JSON config + model card, and optionally push it to the Hub."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from mapper import inputs
from mapper.dataset import MANIFEST, Dataset, load_dataset
from mapper.encoder import TextEncoder
from mapper.evaluate import accuracy, map_texts, read_jsonl
from mapper.models import ARCHITECTURES, top_classes
from mapper.training import DEFAULT_INTERPOLATION, INTERPOLATION, TrainConfig, train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, help="folder written by build_dataset.py; or a seed dictionary "
                        "dataset: a saved `datasets` folder or a Hub dataset id, encoded with --encoder")
    parser.add_argument("--dataset-revision", help="branch, tag or commit of a Hub dataset (default: main)")
    inputs.add_arguments(parser)
    parser.add_argument("--cache", type=Path, help="where a dataset's hidden states are cached "
                        "(default: $TEXT2BIGGAN_HOME/datasets, else ~/.cache/text2biggan/datasets)")
    parser.add_argument("--out", type=Path, required=True, help="folder to save the mapper in")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default=defaults.arch)
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="at most; early stopping may end sooner")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--interpolation", type=float,
        help="classifiers keep start + this x (trained - start), start being retrieval "
        f"(default: {', '.join(f'{a} {v}' for a, v in INTERPOLATION.items())}, others {DEFAULT_INTERPOLATION})",
    )
    parser.add_argument("--eval", type=Path, nargs="*", default=[], help="extra JSONL sets {text, labels} to score")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the mapper to this Hub model repo")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    return parser.parse_args(argv)


def check_hub_access(repo_id: str) -> None:
    """Fail before training, not after: a token must exist and the Hub must answer."""
    from huggingface_hub import HfApi, get_token

    token = get_token()
    if not token:
        raise PermissionError(
            f"--push-to-hub {repo_id}: no Hugging Face token. Set HF_TOKEN or run `hf auth login`."
        )
    try:
        HfApi().whoami(token=token)
    except Exception as err:  # noqa: BLE001 - offline, bad token: the same advice
        raise PermissionError(f"--push-to-hub {repo_id}: cannot use the Hub ({err.__class__.__name__}: {err})") from None


def push(folder: Path, repo_id: str, private: bool) -> str:
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    return api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="Upload text2biggan mapper").commit_url


def open_dataset(args: argparse.Namespace) -> tuple[Dataset, str | None]:
    """The training data and, when it came from a `datasets` dataset, its name (for the model card)."""
    if (Path(args.dataset) / MANIFEST).is_file():
        return load_dataset(args.dataset), None
    from mapper import hub_dataset  # `datasets` only where it serves
    from mapper.fallback import cache_home

    sentences = hub_dataset.from_hf(hub_dataset.load_hf(args.dataset, args.dataset_revision))
    z, gan = inputs.class_embeddings(args)
    encoder = TextEncoder.from_pretrained(args.encoder)
    cache = args.cache or cache_home() / "datasets"
    return load_dataset(hub_dataset.encoded(sentences, encoder, z, gan, cache)), args.dataset


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        if args.push_to_hub:
            check_hub_access(args.push_to_hub)
        dataset, published = open_dataset(args)
        extra_sets = {path.stem: read_jsonl(path) for path in args.eval}
        config = TrainConfig(
            args.arch, args.epochs, args.batch_size, args.lr, interpolation=args.interpolation, seed=args.seed
        )
        result = train(dataset, config)
        metrics = dict(result.metrics)
        if extra_sets:
            encoder = TextEncoder.from_pretrained(dataset.manifest["encoder"])
            for name, (texts, labels) in extra_sets.items():
                _, top = top_classes(map_texts(encoder, result.mapper, texts), dataset.class_embeddings, k=5)
                metrics[name] = accuracy(top, labels)
        train_info = {"seconds": result.seconds, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run}
        card = {"repo_id": args.push_to_hub or str(args.out), "metrics": metrics, "manifest": dataset.manifest,
                "train_info": train_info, "dataset": published}
        result.mapper.save_pretrained(args.out, model_card_kwargs=card)
        (args.out / "metrics.json").write_text(json.dumps({"metrics": metrics, **train_info, "history": result.history}, indent=2))
        print(json.dumps({"arch": args.arch, "seconds": round(result.seconds, 1), **metrics}))
        if args.push_to_hub:
            print(f"pushed: {push(args.out, args.push_to_hub, args.private)}")
    except (ImportError, OSError, ValueError) as err:
        print(f"train_mapper: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
