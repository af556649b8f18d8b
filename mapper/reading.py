"""What the mapper read in a text, for people: the top classes, the group they belong to, the words it
weighed, and whether the text names anything ImageNet has.

The served app reads two tables written from WordNet once (`python -m mapper.reading` rewrites them), so it
never loads WordNet at start: CLASS_NAMES_FILE (a readable, unique name per class) and CLASS_GROUPS_FILE
(WordNet's basic-level ancestors of the classes, "dog" over its 118 breeds, with the classes each covers).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

CLASS_NAMES_FILE = Path(__file__).with_name("class_names.json")
CLASS_GROUPS_FILE = Path(__file__).with_name("class_groups.json")
TOP_K = 5
# A readout is spread when its top class holds less than this; its group is then the most specific one
# holding at least this much.
GROUP_SHARE = 0.5
STAND_INS_NAMED = 3
# an outside text whose top class holds less than this has no stand-in: WordNet gave none, so it was taught flat
STAND_IN_SHARE = 0.1
MAX_GROUP_CLASSES = 400  # "animal" (398) still; "object" (958) says nothing


@dataclass(frozen=True)
class Reading:
    text: str
    classes: list[tuple[int, str, float]]  # top-5 (index, name, probability)
    group: tuple[str, float] | None  # the group holding most of a spread readout ("dog", 0.89)
    words: list[tuple[str, float]]  # each word of the text and its weight in the pooling; weights sum to 1
    outside: bool  # the text names nothing among the 1000 classes

    def to_json(self) -> dict:
        """{"text", "classes": [[index, name, p], ...], "group": {"name", "p"} | null, "words": [[word, weight],
        ...], "outside": bool}: the `/read` endpoint and `python -m mapper.read` give exactly this."""
        return {
            "text": self.text,
            "classes": [[i, name, round(p, 4)] for i, name, p in self.classes],
            "group": None if self.group is None else {"name": self.group[0], "p": round(self.group[1], 4)},
            "words": [[word, round(w, 4)] for word, w in self.words],
            "outside": self.outside,
        }


@lru_cache(maxsize=1)
def class_names() -> list[str]:
    """Readable names of the 1000 classes, unique, as wordnet_class_names() gives them."""
    return json.loads(CLASS_NAMES_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def class_groups() -> list[tuple[str, frozenset[int]]]:
    """(name, classes) of each basic-level group, as wordnet_class_groups() gives them."""
    return [(name, frozenset(classes)) for name, classes in json.loads(CLASS_GROUPS_FILE.read_text(encoding="utf-8"))]


def reading_note(reading: dict) -> str:
    """One plain sentence about a reading (as `Reading.to_json` gives it): what ImageNet lacks, else the group
    a spread readout falls in, else nothing."""
    if reading["outside"]:
        nearest = ", ".join(name for _, name, _ in reading["classes"][:STAND_INS_NAMED])
        if reading["classes"][0][2] < STAND_IN_SHARE:
            return f"ImageNet has no class for this, nor anything close: BigGAN draws a blend of what it knows ({nearest}, ...)."
        return f"ImageNet has no class for this; BigGAN draws the nearest things it knows: {nearest}."
    if reading["group"]:
        return f"Mostly {reading['group']['name']} ({reading['group']['p']:.0%}), spread over its kinds."
    return ""


def top_group(probs: torch.Tensor, groups: list[tuple[str, frozenset[int]]]) -> tuple[str, float] | None:
    """The most specific group holding at least GROUP_SHARE of a spread readout (fewest classes, then most
    probability); None when the top class holds that much itself, or no group does."""
    if float(probs.max()) >= GROUP_SHARE:
        return None
    held = [(len(classes), -float(probs[list(classes)].sum()), name) for name, classes in groups]
    size, share, name = min((h for h in held if -h[1] >= GROUP_SHARE), default=(0, 0.0, None))
    return None if name is None else (name, -share)


def word_weights(text: str, offsets: list[tuple[int, int] | None], token_weights: torch.Tensor) -> list[tuple[str, float]]:
    """Token weights summed per word of `text` (offsets: each token's word span in it, None for special tokens),
    renormalised over the words."""
    words: dict[tuple[int, int], float] = {}
    for span, weight in zip(offsets, token_weights.tolist()):
        if span is not None:
            words[span] = words.get(span, 0.0) + weight
    total = sum(words.values()) or 1.0
    return [(text[start:end], weight / total) for (start, end), weight in words.items()]


def read(
    text: str, probs: torch.Tensor, outside_probability: float, offsets: list[tuple[int, int] | None],
    token_weights: torch.Tensor, threshold: float,
) -> Reading:
    top = probs.topk(TOP_K)
    names = class_names()
    classes = [(int(i), names[i], float(p)) for p, i in zip(top.values, top.indices)]
    return Reading(
        text, classes, top_group(probs, class_groups()), word_weights(text, offsets, token_weights),
        outside_probability > threshold,
    )


# --- the tables, from WordNet ------------------------------------------------------------------------


def wordnet_class_names() -> list[str]:
    """Readable names of the 1000 classes, unique: a name two classes share gets its hypernym
    ("crane (wading bird)", "crane (lifting device)"), so a readout never merges them."""
    from mapper.classes import imagenet_classes

    classes = imagenet_classes()
    counts = Counter(c.name for c in classes)
    return [c.name if counts[c.name] == 1 else f"{c.name} ({c.hypernyms[-1]})" for c in classes]


def wordnet_class_groups() -> list[tuple[str, list[int]]]:
    """Every ancestor of two or more classes that people have a word for ("dog", "bird", "fruit":
    sentences.common_names), under its first such word, with the classes it covers."""
    from mapper.sentences import class_ancestors, common_names, descendant_classes

    groups = {}
    for a in class_ancestors():
        if 1 < len(descendant_classes(a)) <= MAX_GROUP_CLASSES and (words := common_names(a)):
            groups.setdefault(words[0], sorted(descendant_classes(a)))
    return sorted(groups.items())


def main() -> None:
    """Rewrite both tables from WordNet."""
    CLASS_NAMES_FILE.write_text(json.dumps(wordnet_class_names(), indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    CLASS_GROUPS_FILE.write_text(json.dumps(wordnet_class_groups(), ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
