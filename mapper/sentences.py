"""Sentences about each ImageNet class, generated from WordNet: the mapper's seed dictionary.

Sources, each a way people talk about a thing:
  name      a lemma of the class ("tabby", "tabby cat") in a caption, first-person or descriptive template
  scene     the lemma as the subject of a scene with other objects and a place, so the mapper learns
            to find the subject among context words ("a tabby cat chasing a tennis ball on the beach"), or
            as what a person does something with ("a nurse holding a tabby cat": template family "people")
  hypernym  the lemma placed by its hypernym ("a tabby cat, a kind of domestic cat")
  description  each lemma with the class's nearest hypernym and nothing else ("tabby cat, a kind of domestic
            cat"): the classifier starts from these, since the encoder puts a definition ("a cat with a grey
            or tawny coat") nearer to its thing's name and kind than to the thing's name in a caption
  hyponym   a name of a kind of the class that ImageNet does not list ("grizzly" -> brown bear)
  gloss     the WordNet definition alone, as a description of a thing never named
  family    the definition of an ancestor ("any of various usually long-haired breeds of dog reared to
            herd and guard sheep"), its target spread over the classes below it: every class, including
            those whose own definition is held out, is reached by definitions in training, so the mapper
            does not learn that definitions belong only to classes whose definition it has seen
  everyday  an everyday word for an ancestor of several classes ("cat", "dog", "truck"), whose target
            is a distribution over those classes weighted towards the common sense (see `everyday_targets`)
  outside   a word that names nothing ImageNet has ("woman", "the sun", "a dragon": mapper/outside.py),
            flagged so, its target the classes that stand in for it or, where none do, no class in particular

Splits hold out whole templates and, for a fraction of classes, all their gloss sentences, so held-out
accuracy measures new wordings and unseen definitions, not memorised strings; a fraction of the outside words
is held out whole.
"""
from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache

from mapper.classes import NUM_CLASSES, hypernym_paths, hyponyms, imagenet_classes, lemma_text, synset, wordnet

TRAIN, HELDOUT_TEMPLATE, HELDOUT_GLOSS = "train", "heldout_template", "heldout_gloss"
HELDOUT_OUTSIDE = "heldout_outside"  # outside words never seen in training, and trained ones in held-out templates
SPLITS = (TRAIN, HELDOUT_TEMPLATE, HELDOUT_GLOSS, HELDOUT_OUTSIDE)
# What generate_sentences writes, as a number: a cached fallback mapper trained on other sentences is stale.
# 2: outside words and people doing things with the classes. 3: only outside words used mostly as
# nouns. 4: outside places in scenes.
SENTENCES_VERSION = 5

# {a}: "a tabby cat"  {the}: "the tabby cat"  {n}: "tabby cat"  {p}: "tabby cats"
# {other}: another object with its article  {place}: a place  {hyper}: a hypernym with its article
TEMPLATES: dict[str, dict[str, str]] = {
    "name": {
        "bare": "{a}",
        "photo": "a photo of {a}.",
        "picture": "a picture of {the}.",
        "closeup": "a close-up photo of {a}",
        "painting": "an oil painting of {a}",
        "sketch": "a pencil sketch of {a}.",
        "saw": "I saw {a} today.",
        "love_my": "I love my {n}.",
        "bought": "We just bought {a}.",
        "friend": "My friend showed me her {n}.",
        "look": "Look at this {n}!",
        "this_is": "This is {a}.",
        "there_is": "There is {a} in this picture.",
        "beautiful": "{The} looks beautiful in the morning light.",
        "two": "two {p} side by side",
        "several": "Several {p} were there when we arrived.",
        "never_seen": "I had never seen {a} up close before.",
        "favourite": "My favourite thing in the world is {a}.",
        "what_is": "What a lovely {n}!",
        "remember": "I still remember the {n} from my childhood.",
        "old": "an old {n}",
        "small": "a small {n} in the corner of the room",
        "dream": "Last night I dreamt about {a}.",
        "kids": "The kids could not stop talking about the {n}.",
        # depictions whose medium is itself a thing ("pencil", "crayon"): the subject comes after "of"
        "watercolor": "a watercolor of {a}",
        "crayon": "a child's crayon drawing of {a}",
        "charcoal": "a charcoal drawing of {a}.",
        "statue": "a marble statue of {a}",
        "cartoon": "a cartoon of {a}",
        "poster": "a vintage poster of {a}",
        "embroidery": "an embroidery of {a} on a pillow",
        "stamp": "a postage stamp showing {a}",
        "carving": "a wooden carving of {a}",
    },
    "scene": {
        "next_to": "{a} next to {other}",
        "on_place": "{a} on the {place}.",
        "in_place": "A photo of {a} in the {place}.",
        "chasing": "{a} chasing {other} on the {place}",
        "found_in": "In the {place} we found {a}.",
        "beside": "{a} beside {other}, seen from above",
        "morning": "Early in the morning, {a} appeared near the {place}.",
        "with": "{a} with {other} in the background",
        "sunny": "On a sunny day at the {place}, I noticed {a}.",
        "left": "Someone left {a} by the {place} overnight.",
        "near": "There was {a} right near {other}.",
        "playing": "{a} playing with {other}.",
        "knocked": "{The} knocked {other} off the table.",
        "loves": "My {n} loves {other}.",
        "front": "{a} in front of {other}",
        "on_top": "A photo of {a} sitting on top of {other}.",
        "past": "Yesterday {a} walked past {other} in the {place}.",
        "close_to": "We spotted {a} close to {other}.",
        "in_back": "{a}, and in the back, {other}",
        "stands_beside": "In the picture, {a} stands beside {other}.",
        # the subject named last: the first noun is not always the thing
        "stood": "Beside {other} stood {a}.",
        "behind": "Behind {other} we could see {a}.",
        "under": "Under {other} lay {a}.",
    },
    # a person does something with the thing ("She typed on the keyboard"): the thing is what the text names
    "people": {
        "holding": "{person} holding {a}",
        "with": "{person} with {a} in the {place}",
        "looking": "{person} looking at {a}",
        "playing": "{person} playing with {a}.",
        "bought": "{person} bought {a} yesterday.",
        "she_put": "She put {the} on the {place}.",
        "he_found": "He found {a} near the {place}.",
        "we_saw": "We saw {a} with {person}.",
        "they_took": "They took {the} to the {place}.",
        "my": "My {person_n} loves {the}.",
    },
    "hypernym": {
        "kind_of": "{a}, a kind of {hyper_n}",
        "is_a": "{The} is {hyper}.",
        "known_as": "the {hyper_n} known as {a}",
        "type": "a photo of {a}, a type of {hyper_n}.",
    },
    "description": {"kind_of": "{n}, a kind of {hyper_n}"},
    "gloss": {
        "gloss": "{gloss}",
        "photo_gloss": "a photo of {gloss}",
        "saw_gloss": "I saw {gloss}.",
        "it_is": "It is {gloss}.",
    },
}
PLACES = (
    "beach", "street", "park", "kitchen table", "forest", "lake", "grass", "snow", "desk", "living room",
    "garden", "city square", "river bank", "road", "field", "rocks", "sofa", "shelf",
)
# Whole templates kept out of training, fixed so that adding training templates never changes the test.
HELDOUT_TEMPLATES = frozenset({
    "name/beautiful", "name/look", "name/painting", "name/photo", "name/saw",
    "scene/near", "scene/next_to", "people/looking", "people/he_found", "hypernym/known_as", "gloss/saw_gloss",
})
HELDOUT_GLOSS_FRACTION = 0.1
HELDOUT_OUTSIDE_FRACTION = 0.1
# The commonest fifth of each kind's outside words are always taught: they are what visitors type first ("a
# woman", "a tree", "the moon"), and a shipped mapper must know them. The held-out words come from the rest.
ALWAYS_TAUGHT_SHARE = 0.2
OUTSIDE_NAMES, OUTSIDE_SCENES = 2, 1  # sentences per outside word: there are five times as many words as classes
PEOPLE_PER_CLASS = 2
OUTSIDE_OTHER_STRIDE = 8  # every 8th outside thing is another object in scenes: about as many as everyday words
NAMES_PER_LEMMA = 6
SCENES_PER_CLASS = 6
MAX_LEMMAS = 4
MAX_EVERYDAY_CLASSES = 150  # an ancestor broader than this ("animal") names no picture
MAX_EVERYDAY_DEPTH = 5  # nor one far above the classes it covers
EVERYDAY_LEXNAMES = {"noun.animal", "noun.artifact", "noun.food", "noun.plant", "noun.object"}
MAX_HYPONYM_NAMES = 8
HEAD_NOUN_BOOST = 4.0  # weight of a class whose own name ends in the everyday word ("tabby cat" for "cat")
EVERYDAY_NAMES, EVERYDAY_SCENES = 4, 12  # sentences per everyday word: its scenes are the hard ones


@dataclass(frozen=True)
class Sentence:
    text: str
    class_index: int  # the most likely class (argmax of targets); -1 when there are none
    wnid: str  # the WordNet synset the sentence names: the class, an ancestor for everyday words, the outside sense
    source: str  # name | scene | hypernym | description | hyponym | gloss | family | everyday | outside
    template: str  # "<source family>/<template id>"
    split: str  # train | heldout_template | heldout_gloss | heldout_outside
    targets: tuple[tuple[int, float], ...]  # class distribution the sentence stands for, weights sum to 1;
    # empty: no class in particular (uniform)

    @property
    def outside(self) -> bool:
        """It names nothing among the 1000 classes."""
        return self.source == "outside"


# --- grammar -------------------------------------------------------------------------------------

_AN_EXCEPTIONS = re.compile(r"^(uni|use|usu|eu|one|once|ur[aei])", re.IGNORECASE)
_SILENT_H = re.compile(r"^(hour|honest|honou?r|heir)", re.IGNORECASE)
_IRREGULAR_PLURALS = {
    "goose": "geese", "mouse": "mice", "louse": "lice", "man": "men", "woman": "women", "child": "children",
    "foot": "feet", "tooth": "teeth", "ox": "oxen", "fish": "fish", "sheep": "sheep", "deer": "deer",
    "bison": "bison", "moose": "moose", "knife": "knives", "wolf": "wolves", "leaf": "leaves", "loaf": "loaves",
    "half": "halves", "shelf": "shelves", "thief": "thieves", "calf": "calves", "cactus": "cacti",
    "fungus": "fungi", "ibex": "ibex", "grouse": "grouse", "quail": "quail", "trout": "trout",
    "salmon": "salmon", "species": "species", "series": "series", "chassis": "chassis",
}


def article(phrase: str) -> str:
    """'a' or 'an' by the sound of the first word."""
    vowel_sound = phrase[:1].lower() in "aeiou" and not _AN_EXCEPTIONS.match(phrase)
    return "an" if vowel_sound or _SILENT_H.match(phrase) else "a"


def with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


def plural(phrase: str) -> str:
    """English plural of a noun phrase, inflecting its last word."""
    head, _, last = phrase.rpartition(" ")
    lower = last.lower()
    if lower in _IRREGULAR_PLURALS:
        word = last[0] + _IRREGULAR_PLURALS[lower][1:]
    elif lower.endswith("man") and len(lower) > 4:
        word = last[:-3] + "men"
    elif re.search(r"(s|x|z|ch|sh)$", lower):
        word = last + "es"
    elif re.search(r"[^aeiou]y$", lower):
        word = last[:-1] + "ies"
    elif re.search(r"[^aeiou]o$", lower) and lower not in {"piano", "photo", "kimono", "poncho", "banjo"}:
        word = last + "es"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


_DETERMINERS = {"a", "an", "the", "any", "one", "either", "each", "some"}


def gloss_phrase(gloss: str) -> str:
    """A WordNet definition as a noun phrase: its first clause, with an article when it lacks one."""
    phrase = gloss.split(";")[0].strip().rstrip(".")
    return phrase if phrase.split(" ", 1)[0].lower() in _DETERMINERS else with_article(phrase)


def fill(template: str, name: str, **slots: str) -> str:
    text = template.format(a=with_article(name), The=f"The {name}", the=f"the {name}", n=name, p=plural(name), **slots)
    return capitalise(text)


# --- WordNet knowledge ----------------------------------------------------------------------------


def usable_lemmas(index: int) -> list[str]:
    """Lemma names people would write: no Latin binomials ("Felis catus"), at most MAX_LEMMAS."""
    lemmas = [n for n in imagenet_classes()[index].lemmas if not re.match(r"^[A-Z][a-z]+ [a-z]+$", n)]
    return (lemmas or list(imagenet_classes()[index].lemmas))[:MAX_LEMMAS]


@lru_cache(maxsize=1)
def lemma_classes() -> dict[str, dict[int, float]]:
    """Lemma (lower case) -> classes it names, weighted by WordNet sense counts (+1 smoothing) over the
    sense's rank among the word's noun senses.

    A lemma naming several classes ("crane": the bird and the machine) is ambiguous on its own; its
    bare sentences get this split as target, its hypernym and gloss sentences the single class. Most
    senses were never tagged (count 0), so WordNet's order, most frequent first, breaks the tie: "harp"
    is the instrument with strings before it is a harmonica.
    """
    names: dict[str, dict[int, float]] = defaultdict(dict)
    for index in range(NUM_CLASSES):
        s = synset(index)
        for lemma in s.lemmas():
            rank = 1 + wordnet().synsets(lemma.name(), "n").index(s)
            names[lemma_text(lemma.name()).lower()][index] = (lemma.count() + 1.0) / rank
    return {name: normalise(weights) for name, weights in names.items()}


def normalise(weights: dict[int, float]) -> dict[int, float]:
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()} if total else {}


@lru_cache(maxsize=1)
def _synset_to_index() -> dict:
    return {synset(i): i for i in range(NUM_CLASSES)}


@cache
def descendant_classes(s) -> frozenset[int]:
    """ImageNet classes at or below synset `s`."""
    own = {_synset_to_index()[s]} if s in _synset_to_index() else set()
    return frozenset(own.union(*(descendant_classes(h) for h in s.hyponyms())))  # a set: order is moot


def everyday_targets(s, word: str) -> dict[int, float]:
    """Class distribution for an everyday word whose common sense is the ancestor synset `s`.

    People say "cat" for a house cat, not a lynx: classes whose own name has `word` as head noun
    ("tabby cat", "Persian cat"), or that sit under such a synset ("house cat"), weigh HEAD_NOUN_BOOST
    times the others.
    """
    weights = {}
    for c in descendant_classes(s):
        path = next(p for p in hypernym_paths(synset(c)) if s in p)
        below = path[path.index(s) + 1 :]
        named = any(lemma_text(n).lower().endswith(" " + word) for x in below for n in x.lemma_names())
        weights[c] = HEAD_NOUN_BOOST if named else 1.0
    return normalise(weights)


def everyday_lemma(lemma) -> bool:
    """A name people write: lower case, and seen in WordNet's sense-tagged text."""
    return lemma.count() > 0 and not lemma.name()[0].isupper()


def common_names(s) -> list[str]:
    """Lemmas of `s` that people write and that mean `s` first of all (WordNet orders senses by frequency)."""
    wn = wordnet()
    return [lemma_text(l.name()) for l in s.lemmas() if everyday_lemma(l) and wn.synsets(l.name(), "n")[0] == s]


def concrete_ancestor(a) -> bool:
    """An ancestor that names a kind of thing one could picture ("cat", "boat"), not "equipment" or "person"."""
    if a in _synset_to_index() or a.lexname() not in EVERYDAY_LEXNAMES:
        return False
    classes = descendant_classes(a)
    deepest = max(synset(c).min_depth() for c in classes) if classes else 0
    return 1 <= len(classes) <= MAX_EVERYDAY_CLASSES and deepest - a.min_depth() <= MAX_EVERYDAY_DEPTH


@lru_cache(maxsize=1)
def class_ancestors() -> list:
    """Every synset above an ImageNet class, in name order."""
    ancestors = {a for i in range(NUM_CLASSES) for p in hypernym_paths(synset(i)) for a in p[:-1]}
    return sorted(ancestors, key=lambda a: a.name())


@lru_cache(maxsize=1)
def everyday_words() -> tuple[tuple[str, object, tuple[tuple[int, float], ...]], ...]:
    """(word, synset, targets) for everyday words for an ancestor of ImageNet classes.

    Two kinds: a name of the ancestor whose most frequent noun sense it is ("cat", "dog"), and, for an
    animal, the name of its hyponym that is not itself in ImageNet ("puppy" under "dog"): both stand for
    the ancestor's classes. Only animals lend their classes so: a puppy or a pony is still pictured by a
    breed, but an artifact's or a food's other kinds are other things (a sari is not a gown, silk not a
    bath towel, a flag not a totem pole). Names of classes are left to their classes.
    """
    class_names = lemma_classes()
    words: dict[str, object] = {}
    for a in filter(concrete_ancestor, class_ancestors()):
        names = common_names(a)
        words.update((name, a) for name in names)
        # only a basic-level ancestor ("dog", not "canine") lends its classes to informal words
        if names and a.lexname() == "noun.animal":
            for h in hyponyms(a):
                if not descendant_classes(h):
                    words.update((name, a) for name in common_names(h))
    return tuple(
        (word, a, tuple(sorted(everyday_targets(a, word).items())))
        for word, a in words.items()
        if word.lower() not in class_names
    )


def hyponym_names(index: int) -> list[str]:
    """Names of kinds of this class that ImageNet does not list ("grizzly" for brown bear, "fridge" for
    refrigerator), nearest kinds first, at most MAX_HYPONYM_NAMES."""
    names: list[str] = []
    level = [h for h in hyponyms(synset(index)) if not descendant_classes(h)]
    for _ in range(2):
        for h in level:
            names += [lemma_text(l.name()) for l in h.lemmas()[:2] if not l.name()[0].isupper() or l.count()]
        level = [x for h in level for x in hyponyms(h)]
    taken = lemma_classes()
    return [n for n in dict.fromkeys(names) if n.lower() not in taken][:MAX_HYPONYM_NAMES]


# --- generation -----------------------------------------------------------------------------------


def family_ancestors() -> list:
    """Ancestors that are not classes themselves and cover 2..MAX_EVERYDAY_CLASSES classes."""
    return [
        a for a in class_ancestors()
        if a not in _synset_to_index() and 2 <= len(descendant_classes(a)) <= MAX_EVERYDAY_CLASSES
    ]


def wnid_of(s) -> str:
    return f"n{s.offset():08d}"


def heldout_gloss_classes(seed: int) -> frozenset[int]:
    rng = random.Random(seed + 1)
    return frozenset(rng.sample(range(NUM_CLASSES), round(HELDOUT_GLOSS_FRACTION * NUM_CLASSES)))


def generate_sentences(seed: int = 0, classes: list[int] | None = None) -> list[Sentence]:
    """All sentences for `classes` (default: all 1000), deterministic given `seed`."""
    classes = list(range(NUM_CLASSES)) if classes is None else classes
    rng = random.Random(seed)
    held_gloss = heldout_gloss_classes(seed)
    info = imagenet_classes()
    # imported here: mapper.outside reads this module's WordNet knowledge
    from mapper.outside import OTHER_KINDS, PLACE_KINDS, commonest, kind, outside_words

    # A subset build takes the same share of the outside words as of the classes, the commonest of each
    # kind; scenes draw from them all.
    every_outside = outside_words()
    outside = commonest(every_outside, len(classes) / NUM_CLASSES)
    taught = {wnid_of(x) for _, x, _ in commonest(outside, ALWAYS_TAUGHT_SHARE)}
    outside_wnids = sorted({wnid_of(x) for _, x, _ in outside})
    may_hold = [w for w in outside_wnids if w not in taught]  # none in the smallest subsets
    held_count = min(len(may_hold), round(HELDOUT_OUTSIDE_FRACTION * len(outside_wnids)))
    held_outside = set(random.Random(seed + 2).sample(may_hold, held_count))
    # Other objects in scenes: class names, everyday words and outside words alike ("a cat chasing a ball",
    # "a dog next to a woman"), so that none is taken to be the subject just because it is one.
    others = [(usable_lemmas(i)[0], {i}) for i in range(NUM_CLASSES)]
    others += [(word, {c for c, _ in targets}) for word, _, targets in everyday_words()]
    outside_others = [(word, {c for c, _ in targets}) for word, x, targets in every_outside[::OUTSIDE_OTHER_STRIDE] if kind(x) in OTHER_KINDS]
    people = [word for word, x, _ in every_outside if kind(x) == "noun.person"]
    others += outside_others
    # Places: the fixed ones and, as often, outside places ("a cab at the station", "a scorpion in the desert"),
    # so that an outside word saying where a thing is does not make the text outside.
    outside_places = [word for word, x, _ in every_outside if kind(x) in PLACE_KINDS]
    out: list[Sentence] = []

    def place() -> str:
        return rng.choice(PLACES if rng.random() < 0.5 else outside_places)

    def add(text: str, c: int, wnid: str, family: str, template: str, targets: dict[int, float], source: str = "") -> None:
        template_id = f"{family}/{template}"
        source = source or ("everyday" if wnid != info[c].wnid else family)
        if source == "outside":
            split = HELDOUT_OUTSIDE if wnid in held_outside or template_id in HELDOUT_TEMPLATES else TRAIN
        elif source == "gloss" and c in held_gloss:
            split = HELDOUT_GLOSS
        elif template_id in HELDOUT_TEMPLATES:
            split = HELDOUT_TEMPLATE
        else:
            split = TRAIN
        out.append(Sentence(text, c, wnid, source, template_id, split, tuple(sorted(targets.items()))))

    def other_object(subject: set[int], pool: list[tuple[str, set[int]]]) -> str:
        while subject & (other := rng.choice(pool))[1]:
            pass
        return with_article(other[0])

    def name_and_scene(
        name: str, c: int, wnid: str, targets: dict[int, float], n_names: int, n_scenes: int, source: str = ""
    ):
        # an outside thing's scenes name no ImageNet thing beside it: the text then names one after all
        pool = outside_others if source == "outside" else others
        for t in rng.sample(sorted(TEMPLATES["name"]), n_names):
            add(fill(TEMPLATES["name"][t], name), c, wnid, "name", t, targets, source)
        for t in rng.sample(sorted(TEMPLATES["scene"]), n_scenes):
            text = fill(TEMPLATES["scene"][t], name, other=other_object(set(targets), pool), place=place())
            add(text, c, wnid, "scene", t, targets, source)

    for c in classes:
        lemmas = usable_lemmas(c)
        wnid = info[c].wnid
        per_lemma = max(NAMES_PER_LEMMA, 12 // len(lemmas))
        for i, name in enumerate(lemmas):
            targets = lemma_classes()[name.lower()]
            name_and_scene(name, c, wnid, targets, per_lemma, SCENES_PER_CLASS if i == 0 else 1)
            for t in rng.sample(sorted(TEMPLATES["people"]), PEOPLE_PER_CLASS if i == 0 else 0):
                person = rng.choice(people)
                text = fill(TEMPLATES["people"][t], name, person=with_article(person), person_n=person, place=place())
                add(text, c, wnid, "people", t, targets, source="scene")
            t = rng.choice(sorted(TEMPLATES["hypernym"]))
            hyper = rng.choice(info[c].hypernyms[-2:])  # "a tabby, a kind of domestic cat / cat"
            text = fill(TEMPLATES["hypernym"][t], name, hyper=with_article(hyper), hyper_n=hyper)
            add(text, c, wnid, "hypernym", t, {c: 1.0})
            description = fill(TEMPLATES["description"]["kind_of"], name, hyper_n=info[c].hypernyms[-1])
            add(description, c, wnid, "description", "kind_of", {c: 1.0})
        for name in hyponym_names(c):  # a rare word: in two wordings, so a held-out one tests wording only
            for family in ("name", "scene"):
                t = rng.choice(sorted(TEMPLATES[family]))
                text = fill(TEMPLATES[family][t], name, other=other_object({c}, others), place=place())
                add(text, c, wnid, family, t, {c: 1.0}, source="hyponym")
        gloss = gloss_phrase(info[c].gloss)
        for t in sorted(TEMPLATES["gloss"]):
            add(capitalise(TEMPLATES["gloss"][t].format(gloss=gloss)), c, wnid, "gloss", t, {c: 1.0})

    wanted = set(classes)
    train_gloss_templates = [t for t in sorted(TEMPLATES["gloss"]) if f"gloss/{t}" not in HELDOUT_TEMPLATES]
    for a in family_ancestors():
        weights = {c: 1.0 for c in descendant_classes(a) if c in wanted}
        if weights:
            gloss = gloss_phrase(a.definition())
            for t in train_gloss_templates:
                text = capitalise(TEMPLATES["gloss"][t].format(gloss=gloss))
                add(text, min(weights), wnid_of(a), "gloss", t, normalise(weights), source="family")
    for word, s, targets in everyday_words():
        weights = {c: p for c, p in targets if c in wanted}
        if not weights:
            continue
        top = max(weights, key=weights.get)
        wnid = wnid_of(s)
        name_and_scene(word, top, wnid, normalise(weights), EVERYDAY_NAMES, EVERYDAY_SCENES)
    for word, s, targets in outside:
        weights = normalise({c: p for c, p in targets if c in wanted})
        top = max(weights, key=weights.get) if weights else -1
        name_and_scene(word, top, wnid_of(s), weights, OUTSIDE_NAMES, OUTSIDE_SCENES, source="outside")
    return out


def class_counts(sentences: list[Sentence]) -> list[int]:
    """Sentences per class, counting a sentence for every class in its targets."""
    counts = [0] * NUM_CLASSES
    for s in sentences:
        for c, _ in s.targets:
            counts[c] += 1
    return counts
