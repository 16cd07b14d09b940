"""Data shared by the tests: the one tiny vocabulary (3 slots × 8 entries, so K ≤ 8)."""

from __future__ import annotations

from pathlib import Path

TINY_SLOTS = {
    "1_subject.txt": [
        "a lighthouse",
        "a red fox",
        "an old library",
        "a mountain village",
        "a paper boat",
        "a clockwork owl",
        "a desert caravan",
        "a glass greenhouse",
    ],
    "2_style.txt": [
        "watercolor",
        "oil painting",
        "pixel art",
        "35mm photograph",
        "pencil sketch",
        "ukiyo-e woodblock",
        "low poly render",
        "art nouveau poster",
    ],
    "3_light.txt": [
        "soft morning light",
        "neon glow",
        "golden hour",
        "moonlight",
        "studio lighting",
        "thick fog",
        "candlelight",
        "stormy sky",
    ],
}


def write_vocab(root: Path) -> Path:
    """Write the tiny vocabulary's slot files into ``root`` (created); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, lines in TINY_SLOTS.items():
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
