"""The front page and the report: short enough, every link resolves, every figure exists and is small."""
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
REPORT = ROOT / "docs" / "report.md"
MAX_README_LINES = 300
MAX_FIGURE_BYTES = 200_000
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # a comment in a code block is no heading
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


def local_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(path.read_text()) if not re.match(r"[a-z]+:", target)]


def test_readme_is_a_front_page_whose_first_commands_are_the_app_and_the_tests():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES
    commands = [line for line in lines if line.startswith("pip install")]
    assert commands[0] == "pip install -r requirements.txt && python app.py"
    assert commands[1].startswith("pip install -r requirements-dev.txt") and commands[1].endswith("python -m pytest")


@pytest.mark.parametrize("page", [README, REPORT], ids=lambda p: p.name)
def test_every_local_link_and_anchor_resolves(page):
    links = local_links(page)
    assert links
    for target in links:
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(resolved), f"{page.name}: no heading #{anchor} in {resolved.name}"


def test_slug_matches_github_for_the_headings_used():
    assert slug("Finding the subject: `windowed`") == "finding-the-subject-windowed"
    assert slug("Keeping part of training (WiSE-FT)") == "keeping-part-of-training-wise-ft"
    assert slug("Against the issue's bar") == "against-the-issues-bar"


def test_report_has_contents_and_at_least_five_small_figures():
    text = REPORT.read_text()
    assert "## Contents" in text
    figures = [target for target in local_links(REPORT) if target.endswith(".png")]
    assert len(set(figures)) >= 5
    for figure in figures:
        assert (REPORT.parent / figure).stat().st_size < MAX_FIGURE_BYTES, figure
