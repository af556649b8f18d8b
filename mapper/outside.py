"""WordNet nouns that name nothing among ImageNet's 1000 classes, and what stands in for them.

What people type first into a text-to-image demo is often a person, a tree, the sky or a dragon: none is
an ImageNet class, and a mapper trained only on ImageNet things answers them by spelling ("a lady" ->
ladybug, "the sun" -> sunscreen). The mapper learns to say so from these words, said in the same templates
as the classes (mapper/sentences.py, source "outside").

A word is outside when every one of its noun senses is: not a class, not a kind of a class ("grizzly" is a
brown bear), and covers no class ("dog", "dinosaur", "weapon" do), people aside (`names_imagenet_thing`).
Every sense, so that "table" (first of all a table of data, but also the furniture) teaches nothing either
way. Its stand-in, for the most frequent sense, is what BigGAN draws instead: the classes the sense covers
if it covers any ("person": groom, ballplayer, scuba diver), else those of its nearest ancestor of the same
kind within STANDIN_LEVELS ("woman" -> adult -> person). Only people, plants, landforms and animals get one:
their relatives look like them, while an artifact's relatives are other things (a bedroom is not a patio).
Words without a stand-in stand for no class in particular (an empty target: uniform over the classes).
And only words used mostly as nouns (`mostly_a_noun`): WordNet has a noun "get" (an offspring), "he" (helium)
and "going"; taught as outside things, they flag any text that says "get inside" or "going to".
"""
from __future__ import annotations

import math
from collections import defaultdict
from functools import lru_cache

from wordfreq import zipf_frequency

from mapper.classes import NUM_CLASSES, lemma_text, synset, wordnet
from mapper.sentences import MAX_EVERYDAY_CLASSES, descendant_classes, everyday_words, lemma_classes

STANDIN_KINDS = {"noun.person", "noun.plant", "noun.object", "noun.animal"}
STANDIN_LEVELS = 4
# WordNet files "person" among its top nouns (noun.Tops), while every kind of person is noun.person.
KIND_OF = {"person.n.01": "noun.person"}
# Words people use: at least twice in a million words of English (Zipf 3.3, as wordfreq counts it). WordNet's
# own counts come from a small sense-tagged corpus, in which "unicorn", "mermaid" and "sunflower" never occur.
# Zipf 3.0 adds 704 words, 422 of them people (951 -> 1373), and the head trained on them flagged "A <person>
# looking at <a class>" (held-out templates 0.965 with the gate, 0.972 without; docs/report.md, Outside ImageNet).
MIN_ZIPF_FREQUENCY = 3.3
# About 28,000 words pass; the most frequent of each WordNet lexicographer file are taught: many of the kinds
# people picture (mythical creatures are noun.person), fewer of artifacts and foods (the classes' own
# neighbours), a few of each abstract kind ("noun.feeling", "noun.time", ...).
WORDS_PER_KIND = {
    "noun.person": 1500, "noun.plant": 400, "noun.object": 400, "noun.location": 400, "noun.phenomenon": 400,
    "noun.animal": 150, "noun.artifact": 300, "noun.food": 150, "noun.body": 80, "noun.substance": 80,
}
WORDS_PER_ABSTRACT_KIND = 100
# A word is used mostly as something other than a noun when, in WordNet's sense-tagged corpus, its other
# parts of speech are tagged at least OTHER_USE_RATIO times as often as its noun senses (plus one); and at
# least MIN_OTHER_USES times, so that rare words are judged by their senses alone. Two letters or fewer are
# symbols and letters ("in": indium, "a": the letter).
OTHER_USE_RATIO, MIN_OTHER_USES, MIN_LETTERS = 8, 10, 3
PLACE_KINDS = {"noun.location", "noun.object", "noun.artifact"}  # where things are: a desert, a hill, a station
OTHER_KINDS = {"noun.person", "noun.plant", "noun.animal", "noun.artifact", "noun.food"}  # things beside a subject


def kind(s) -> str:
    return KIND_OF.get(s.name(), s.lexname())


@lru_cache(maxsize=1)
def under_a_class() -> frozenset:
    """Every synset that is an ImageNet class or a kind of one."""
    seen: set = set()
    stack = [synset(i) for i in range(NUM_CLASSES)]
    while stack:
        s = stack.pop()
        if s not in seen:
            seen.add(s)
            stack += s.hyponyms() + s.instance_hyponyms()
    return frozenset(seen)


def names_imagenet_thing(s) -> bool:
    """A class, a kind of one, or a word that covers classes; but never a person in general: ImageNet's three
    people (groom, ballplayer, scuba diver) are pictured by what they wear, not by being people."""
    return s in under_a_class() or (bool(descendant_classes(s)) and kind(s) != "noun.person")


def standin_targets(s) -> dict[int, float]:
    """Classes that BigGAN can draw for the outside sense `s`, evenly weighted; {} when WordNet gives none."""
    if kind(s) not in STANDIN_KINDS:
        return {}
    level = [s]
    for _ in range(STANDIN_LEVELS + 1):
        for a in level:
            classes = descendant_classes(a)
            if classes and len(classes) <= MAX_EVERYDAY_CLASSES and kind(a) == kind(s):
                return {c: 1 / len(classes) for c in sorted(classes)}
        level = sorted({h for x in level for h in x.hypernyms() + x.instance_hypernyms()}, key=lambda h: h.name())
    return {}


def mostly_a_noun(word: str) -> bool:
    """Whether a text that says `word` most likely means one of its noun senses ("rose" does not: WordNet counts
    it as the past of "rise" far more often than as the flower)."""
    wn = wordnet()

    def uses(pos: str) -> int:
        base = {word, wn.morphy(word, pos)}
        return sum(lemma.count() for s in wn.synsets(word, pos) for lemma in s.lemmas() if lemma.name().lower() in base)

    other = sum(map(uses, "vars"))
    return len(word) >= MIN_LETTERS and (other < MIN_OTHER_USES or other < OTHER_USE_RATIO * (uses("n") + 1))


@lru_cache(maxsize=1)
def outside_words() -> tuple[tuple[str, object, tuple[tuple[int, float], ...]], ...]:
    """(word, its most frequent sense, stand-in targets) for the outside words taught, in a fixed order."""
    wn = wordnet()
    inside = set(lemma_classes()) | {word.lower() for word, _, _ in everyday_words()}
    by_kind: dict[str, list[tuple[float, str, object]]] = defaultdict(list)
    for name in sorted(wn.all_lemma_names("n")):
        word = lemma_text(name)
        if word in inside or not word.isalpha():  # one word: wordfreq scores a phrase by its words' frequencies
            continue
        frequency = zipf_frequency(word, "en")
        if frequency < MIN_ZIPF_FREQUENCY or not mostly_a_noun(word):  # the cheap test first
            continue
        # senses, most frequent first, where it is written in lower case: "mars" is a name, "Mars" a planet
        senses = [s for s in wn.synsets(name, "n") if name in s.lemma_names()]
        if senses and not any(map(names_imagenet_thing, senses)):
            by_kind[kind(senses[0])].append((-frequency, word, senses[0]))
    chosen = [
        entry for k in sorted(by_kind)
        for entry in sorted(by_kind[k], key=lambda e: e[:2])[: WORDS_PER_KIND.get(k, WORDS_PER_ABSTRACT_KIND)]
    ]
    return tuple((word, s, tuple(sorted(standin_targets(s).items()))) for _, word, s in chosen)


def commonest(words: tuple, share: float) -> list:
    """The commonest `share` of each kind's outside words (they come commonest first within a kind): a
    subset build still has "woman", "tree" and "sun"."""
    by_kind: dict[str, list] = defaultdict(list)
    for entry in words:
        by_kind[kind(entry[1])].append(entry)
    return [entry for k in sorted(by_kind) for entry in by_kind[k][: math.ceil(share * len(by_kind[k]))]]
