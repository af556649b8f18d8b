"""Which commit of each Hub repo the Space loads, so that the live demo changes only when someone moves a pin.

The pins are committed in revisions.json beside app.py (Hub repo id -> branch, tag or commit hash); a flag or
environment variable (MAPPER_REVISION, ENCODER_REVISION, BIGGAN_REVISION) overrides the pin of its part, whatever
repo that part comes from. A repo with neither loads at the Hub's main. Local folders have no revision.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PINS_FILE = Path(__file__).resolve().parents[1] / "revisions.json"
PARTS = ("mapper", "encoder", "biggan")


@dataclass(frozen=True)
class Revisions:
    pins: Mapping[str, str] = field(default_factory=dict)  # Hub repo id -> revision
    mapper: str | None = None  # overrides, for whichever repo the part comes from
    encoder: str | None = None
    biggan: str | None = None

    def of(self, part: str, repo_id: str) -> str | None:
        """The revision to load `repo_id` at as the `part` ("mapper", "encoder" or "biggan"): the part's override,
        else the repo's pin, else None (the Hub's main)."""
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}: choose from {', '.join(PARTS)}")
        return getattr(self, part) or self.pins.get(repo_id)


def is_hub_id(name: str) -> bool:
    """`owner/name`, as a Hub repo is named; "./x", "/x", "~/x" and deeper paths are folders."""
    return name.count("/") == 1 and not name.startswith((".", "/", "~"))


def read_pins(path: Path = PINS_FILE) -> dict[str, str]:
    """The committed pins; a file that is not a JSON object of repo id -> revision names itself in one line."""
    try:
        pins = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"revision pins {path} cannot be read ({err})") from None
    if not isinstance(pins, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in pins.items()):
        raise ValueError(f"revision pins {path} must be a JSON object of Hub repo id -> branch, tag or commit")
    return pins
