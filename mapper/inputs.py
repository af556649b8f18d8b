"""The encoder and class embeddings (Z) that sentences are encoded with and paired to, as build_dataset.py and
train_mapper.py both take them on the command line."""
from __future__ import annotations

import argparse

import torch

from mapper.dataset import load_class_embeddings
from mapper.encoder import DEFAULT_ENCODER
from mapper.gan import DEFAULT_BIGGAN, Generator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, help="transformers encoder: Hub id or local folder")
    z = parser.add_mutually_exclusive_group()
    z.add_argument("--biggan", default=DEFAULT_BIGGAN, help="BigGAN name (biggan-deep-128/256/512) or folder")
    z.add_argument("--class-embeddings", help="a (1000, 128) .npy matrix to use instead of a BigGAN")


def class_embeddings(args: argparse.Namespace) -> tuple[torch.Tensor, str]:
    """Z and what it came from, as the dataset's manifest records it."""
    if args.class_embeddings:
        return load_class_embeddings(args.class_embeddings), str(args.class_embeddings)
    return Generator.from_pretrained(args.biggan).class_embeddings, args.biggan
