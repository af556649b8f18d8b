"""The Space's pins: every Hub repo it may load has one, the README's preloads agree, and overrides win."""
import re

import pytest

from mapper.encoder import DEFAULT_ENCODER
from mapper.fallback import MAPPER_FOR_ENCODER
from mapper.gan import HUB_REPOS
from mapper.revisions import Revisions, read_pins
from tests.conftest import ROOT


def test_every_hub_repo_the_space_may_load_is_pinned():
    pins = read_pins()
    assert set(pins) == {*MAPPER_FOR_ENCODER.values(), *MAPPER_FOR_ENCODER, *HUB_REPOS.values()}
    assert DEFAULT_ENCODER in pins


def test_the_readme_preloads_each_repo_at_its_pin():
    """preload_from_hub lines are `repo files [revision]`: a pin moved without its preload would load twice."""
    front = (ROOT / "README.md").read_text().split("---")[1]
    block = re.search(r"^preload_from_hub:\n((?:  - .+\n)+)", front, flags=re.M).group(1)
    pins = read_pins()
    for line in block.splitlines():
        repo, _files, *revision = line.removeprefix("  - ").split()
        assert (revision[0] if revision else "main") == pins[repo], line


def test_an_override_wins_over_the_pin_and_a_repo_without_either_is_main():
    revisions = Revisions({"me/mapper": "abc", "me/encoder": "def"}, encoder="v2")
    assert revisions.of("mapper", "me/mapper") == "abc" and revisions.of("mapper", "me/other") is None
    assert revisions.of("encoder", "me/encoder") == "v2" and revisions.of("biggan", "me/mapper") == "abc"
    with pytest.raises(ValueError, match="unknown part 'gan'"):
        revisions.of("gan", "me/mapper")


@pytest.mark.parametrize("content", ["{", '["main"]', '{"me/mapper": ""}', '{"me/mapper": 1}'])
def test_pins_that_cannot_be_read_name_their_file(tmp_path, content):
    path = tmp_path / "revisions.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=f"revision pins {path}"):
        read_pins(path)


def test_a_hub_id_is_owner_slash_name_and_every_path_is_a_folder():
    from mapper.revisions import is_hub_id

    assert is_hub_id("text2biggan/mapper-minilm-biggan-deep-128")
    for name in ("biggan-deep-128", "./runs/v5", "/work/runs/v5", "~/models/x", "runs/v5/checkpoint", "a/b/c"):
        assert not is_hub_id(name), name
