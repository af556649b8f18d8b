"""The reading: tables written from WordNet, the group readout, word weights, mapper.read and old mappers."""
import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from mapper.models import CONFIG_NAME, WEIGHTS_NAME, Mapper
from mapper.reading import class_groups, class_names, reading_note, top_group, word_weights

ROOT_KEYS = ["text", "classes", "group", "words", "outside"]


def test_tables_are_written_from_wordnet(wordnet_data):
    from mapper.reading import wordnet_class_groups, wordnet_class_names

    names = class_names()
    assert names == wordnet_class_names(), "class_names.json is stale: run python -m mapper.reading"
    assert len(set(names)) == 1000  # a readout never merges two classes
    assert names[134] == "crane (wading bird)" and names[517] == "crane (lifting device)" and names[281] == "tabby"
    assert [(n, sorted(c)) for n, c in class_groups()] == wordnet_class_groups(), "class_groups.json is stale"
    groups = dict(class_groups())
    assert groups["dog"] == frozenset(range(151, 269)) and len(groups["bird"]) == 59


def test_the_group_holds_the_probability_of_its_classes():
    groups = dict(class_groups())
    probs = torch.zeros(1000)
    dogs = sorted(groups["dog"])
    probs[dogs] = 0.89 / len(dogs)
    probs[281] = 0.11  # a tabby: the top class, yet under GROUP_SHARE
    name, share = top_group(probs, class_groups())
    assert name == "dog" and share == pytest.approx(float(probs[dogs].sum()))
    terriers = sorted(groups["terrier"])
    probs[dogs] = 0.3 / len(dogs)
    probs[terriers] += 0.59 / len(terriers)  # the most specific group holding half of it
    name, share = top_group(probs, class_groups())
    assert name == "terrier" and share == pytest.approx(float(probs[terriers].sum()))
    concentrated = torch.zeros(1000)
    concentrated[207], concentrated[208] = 0.8, 0.2
    assert top_group(concentrated, class_groups()) is None  # not spread: the top class says it


def test_the_note_names_stand_ins_and_says_when_there_are_none():
    def reading(outside: bool, top: list[tuple[int, float]], group: dict | None = None) -> dict:
        return {"outside": outside, "group": group, "classes": [[i, class_names()[i], p] for i, p in top]}

    person = reading(True, [(982, 0.4), (981, 0.3), (983, 0.2)])
    assert reading_note(person) == "ImageNet has no class for this; BigGAN draws the nearest things it knows: groom, ballplayer, scuba diver."
    sun = reading(True, [(834, 0.03), (835, 0.02), (836, 0.02)])
    assert reading_note(sun).startswith("ImageNet has no class for this, nor anything close")
    dogs = reading(False, [(151, 0.05)], {"name": "dog", "p": 0.89})
    assert reading_note(dogs) == "Mostly dog (89%), spread over its kinds."
    assert reading_note(reading(False, [(281, 0.95)])) == ""


def test_word_weights_merge_word_pieces_and_sum_to_one():
    text = "a pomegranate tree"
    spans = [None, (0, 1), (2, 13), (2, 13), (2, 13), (14, 18), None]
    weights = word_weights(text, spans, torch.tensor([0.1, 0.1, 0.2, 0.2, 0.1, 0.2, 0.1]))
    assert [w for w, _ in weights] == ["a", "pomegranate", "tree"]
    assert [round(v, 4) for _, v in weights] == [0.125, 0.625, 0.25]


def test_encoder_word_spans_follow_its_tokens(minilm):
    text = "A dog, next to a pomegranate."
    spans = minilm.word_spans(text)
    assert len(spans) == minilm.encode([text]).attention_mask.sum()
    assert spans[0] is None and spans[-1] is None  # [CLS], [SEP]
    assert [text[a:b] for a, b in dict.fromkeys(s for s in spans if s)] == ["A", "dog", ",", "next", "to", "a", "pomegranate", "."]


def read(small_mapper_dir, minilm_path, *texts: str) -> list[dict]:
    run = subprocess.run(
        [sys.executable, "-m", "mapper.read", str(small_mapper_dir), "--encoder", minilm_path, *texts],
        capture_output=True, text=True, check=True,
    )
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_mapper_read_prints_one_reading_per_text(small_mapper_dir, minilm_path):
    dog, woman, cat = read(small_mapper_dir, minilm_path, "a dog next to a ball", "a woman", "a tabby cat")
    for reading in (dog, woman, cat):
        assert list(reading) == ROOT_KEYS
        assert len(reading["classes"]) == 5 and all(len(c) == 3 for c in reading["classes"])
        probs = [p for _, _, p in reading["classes"]]
        assert probs == sorted(probs, reverse=True) and all(class_names()[i] == n for i, n, _ in reading["classes"])
        assert sum(w for _, w in reading["words"]) == pytest.approx(1, abs=1e-3)
    assert [w for w, _ in dog["words"]] == ["a", "dog", "next", "to", "a", "ball"]
    assert max(dog["words"], key=lambda w: w[1])[0] == "dog"  # the subject weighs most
    assert woman["outside"] and not cat["outside"] and not dog["outside"]
    assert cat["classes"][0][1] in {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


def test_mapper_read_takes_stdin_and_refuses_blank_lines(small_mapper_dir, minilm_path):
    run = subprocess.run(
        [sys.executable, "-m", "mapper.read", str(small_mapper_dir), "--encoder", minilm_path],
        input="a red sports car\n   \n", capture_output=True, text=True,
    )
    assert run.returncode == 1 and "please type some text" in run.stderr
    (reading,) = [json.loads(line) for line in run.stdout.splitlines()]
    assert reading["text"] == "a red sports car" and reading["classes"][0][1] == "sports car"


def test_a_mapper_saved_before_outside_words_loads_and_never_flags(small_mapper_dir, tmp_path, minilm):
    config = json.loads((small_mapper_dir / CONFIG_NAME).read_text())
    state = load_file(small_mapper_dir / WEIGHTS_NAME)
    assert config["outside"] and "memory.outside" in state
    del config["outside"], config["outside_dim"]  # as the previous code wrote them
    old = {k: v for k, v in state.items() if not k.startswith(("outside_head.", "standin_head.")) and k != "memory.outside"}
    (tmp_path / CONFIG_NAME).write_text(json.dumps(config))
    save_file(old, tmp_path / WEIGHTS_NAME)
    mapper = Mapper.from_pretrained(tmp_path)
    encoded = minilm.encode(["a woman", "the moon"])
    reading = mapper.read(encoded.hidden_states, encoded.attention_mask)
    assert not mapper.has_outside and torch.equal(reading.outside, torch.zeros(2))
    new = Mapper.from_pretrained(small_mapper_dir)
    new.has_outside = False  # the same mapper with its gate switched off: what the old one reads
    with torch.inference_mode():
        same = new.class_probabilities(encoded.hidden_states, encoded.attention_mask)
        assert torch.allclose(mapper.class_probabilities(encoded.hidden_states, encoded.attention_mask), same, atol=1e-6)
