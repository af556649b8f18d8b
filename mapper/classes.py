"""The 1000 ImageNet classes BigGAN was trained on, described by WordNet.

ImageNet classes are WordNet noun synsets; `pytorch_pretrained_biggan.utils.IMAGENET`
maps each synset offset to BigGAN's class index.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import nltk
from pytorch_pretrained_biggan.utils import IMAGENET

NUM_CLASSES = 1000


@dataclass(frozen=True)
class ImageNetClass:
    index: int
    wnid: str  # "n02123045"
    lemmas: tuple[str, ...]  # WordNet lemma names with spaces: ("tabby", "tabby cat")
    gloss: str
    hypernyms: tuple[str, ...]  # first lemma of each ancestor, root first, parent last

    @property
    def name(self) -> str:
        return self.lemmas[0]


@lru_cache(maxsize=1)
def wordnet():
    """nltk's WordNet reader, downloading the corpus once if it is missing."""
    from nltk.corpus import wordnet as wn

    try:
        wn.ensure_loaded()
    except LookupError:
        try:
            ok = nltk.download("wordnet", quiet=True)
        except Exception:  # noqa: BLE001 - any failure means the same thing to the user
            ok = False
        if not ok:
            raise RuntimeError(
                "WordNet is not installed and could not be downloaded. Install it with "
                "`python -m nltk.downloader wordnet`, or point NLTK_DATA at a folder "
                "holding corpora/wordnet.zip."
            ) from None
        wn.ensure_loaded()
    return wn


def synset(index: int):
    """The WordNet synset of ImageNet class `index`."""
    return wordnet().synset_from_pos_and_offset("n", _OFFSETS[index])


def hyponyms(s) -> list:
    """`s.hyponyms()` in name order. nltk keeps WordNet's pointers in sets, so its own order changes with
    PYTHONHASHSEED, and with it every sentence drawn after one is picked."""
    return sorted(s.hyponyms(), key=lambda h: h.name())


def hypernym_paths(s) -> list[list]:
    """`s.hypernym_paths()` in a fixed order, for the same reason as `hyponyms`."""
    return sorted(s.hypernym_paths(), key=lambda path: [x.name() for x in path])


def lemma_text(name: str) -> str:
    return name.replace("_", " ")


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """All 1000 classes in BigGAN index order."""
    classes = []
    for index in range(NUM_CLASSES):
        s = synset(index)
        path = max(hypernym_paths(s), key=len)[:-1]
        classes.append(
            ImageNetClass(
                index=index,
                wnid=f"n{_OFFSETS[index]:08d}",
                lemmas=tuple(lemma_text(n) for n in s.lemma_names()),
                gloss=s.definition(),
                hypernyms=tuple(lemma_text(h.lemma_names()[0]) for h in path),
            )
        )
    return tuple(classes)


_OFFSETS = {index: offset for offset, index in IMAGENET.items()}
assert len(_OFFSETS) == NUM_CLASSES
