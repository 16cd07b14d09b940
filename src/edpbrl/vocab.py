"""Vocabularies of the prompt MDP: named slots, each a list of token strings.

A prompt is one token per slot, the non-blank tokens joined with ", ". A blank entry (the empty
string, written ``<skip>`` in files) means "leave this slot out".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import VocabularyError

SKIP = "<skip>"
_NUMBERED = re.compile(r"^\d+[_\-. ]+")


@dataclass(frozen=True)
class Slot:
    """One step of the prompt MDP: a name and its candidate tokens (distinct strings)."""

    name: str
    entries: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.entries)


def _is_list(x) -> bool:
    return isinstance(x, list | tuple) or (isinstance(x, Sequence) and not isinstance(x, str | bytes))


def join_prompt(tokens: Sequence[str], *, unique: bool = False) -> str:
    """Prompt text of a (partial) trajectory: non-blank tokens joined with ", "; with ``unique``
    a token that already appeared is left out (it becomes blank)."""
    if unique:
        tokens = list(dict.fromkeys(t for t in tokens if t))
    return ", ".join(t for t in tokens if t)


REPEATS = ("keep", "blank")


def slot_lines(text: str) -> list[str]:
    """The entries of a slot file: stripped lines, blank lines and ``#`` comment lines dropped,
    a leading ``\\#`` unescaped to ``#``."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append(line[1:] if line.startswith("\\#") else line)
    return out


class Vocabulary:
    """An ordered list of slots. Validates on construction: no empty slot, no duplicate entry.

    ``repeats``: what a prompt does with a token chosen again in a later slot — "keep" it
    (default) or make it "blank" (the paper's pooled vocabulary, where every slot offers the
    same words)."""

    def __init__(
        self,
        slots: Sequence[Slot] | Mapping[str, Sequence[str]],
        *,
        dedupe: bool = False,
        repeats: str = "keep",
    ):
        if repeats not in REPEATS:
            raise VocabularyError(f"repeats must be one of {', '.join(REPEATS)}, got {repeats!r}")
        self.repeats = repeats
        if isinstance(slots, Mapping):
            bad = next((k for k, v in slots.items() if isinstance(v, str | bytes) or not _is_list(v)), None)
            if bad is not None:
                raise VocabularyError(
                    f"slot {str(bad)!r} must be a list of entries, got {type(slots[bad]).__name__}"
                )
            slots = [Slot(str(k), tuple(v)) for k, v in slots.items()]
        elif isinstance(slots, str | bytes) or not _is_list(slots):
            raise VocabularyError(
                f"a vocabulary is a mapping of slot names to entries, got {type(slots).__name__}"
            )
        slots = list(slots)
        if any(not isinstance(s, Slot) for s in slots):
            raise VocabularyError("a vocabulary's slots must be Slot objects (or give a mapping)")
        if not slots:
            raise VocabularyError("vocabulary has no slots")
        names = [s.name for s in slots]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise VocabularyError(f"vocabulary has duplicate slot names: {dup}")
        clean = []
        for s in slots:
            entries = []
            for e in s.entries:
                if not isinstance(e, str):
                    raise VocabularyError(f"slot {s.name!r} has a non-string entry {e!r}")
                e = "" if e.strip() == SKIP else e.strip()
                entries.append(e)
            if not entries:
                raise VocabularyError(f"slot {s.name!r} is empty")
            if dedupe:
                entries = list(dict.fromkeys(entries))
            elif len(set(entries)) != len(entries):
                seen, dups = set(), []
                for e in entries:
                    if e in seen and e not in dups:
                        dups.append(e)
                    seen.add(e)
                more = f" (+{len(dups) - 3} more)" if len(dups) > 3 else ""
                raise VocabularyError(
                    f"slot {s.name!r} has duplicate entries: {dups[:3]}{more}; "
                    "remove them or load with dedupe=True"
                )
            clean.append(Slot(s.name, tuple(entries)))
        self.slots: tuple[Slot, ...] = tuple(clean)

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_dir(cls, path: str | Path, *, dedupe: bool = False) -> Vocabulary:
        r"""One text file per slot (``*.txt``), slot order = sorted file names, one entry per line.

        The slot name is the file stem without a leading number (``2_style.txt`` → ``style``).
        Blank lines are ignored; a line ``<skip>`` is the blank entry. A line whose first
        non-blank character is ``#`` is a comment; ``#`` anywhere else is part of the token
        (``C# code``), and a token that itself starts with ``#`` is written ``\#`` (``\#hashtag``).
        """
        path = Path(path)
        if not path.is_dir():
            raise VocabularyError(f"vocabulary directory not found: {path}")
        files = sorted(p for p in path.iterdir() if p.suffix == ".txt" and p.is_file())
        if not files:
            raise VocabularyError(f"no .txt slot files in vocabulary directory {path}")
        slots = []
        for f in files:
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise VocabularyError(f"cannot read slot file {f}: {exc}") from None
            lines = slot_lines(text)
            name = _NUMBERED.sub("", f.stem) or f.stem
            slots.append(Slot(name, tuple(lines)))
        return cls(slots, dedupe=dedupe)

    @classmethod
    def from_yaml(cls, path: str | Path, *, dedupe: bool = False) -> Vocabulary:
        """YAML mapping ``slot name -> list of entries`` (order of the mapping = slot order)."""
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VocabularyError(f"vocabulary file not found: {path}") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise VocabularyError(f"cannot parse vocabulary YAML {path}: {first}") from None
        if not isinstance(data, Mapping) or not all(isinstance(v, list) for v in data.values()):
            raise VocabularyError(f"vocabulary YAML {path} must map slot names to lists of entries")
        return cls(
            {str(k): ["" if v is None else str(v) for v in vs] for k, vs in data.items()},
            dedupe=dedupe,
        )

    @classmethod
    def load(cls, path: str | Path, *, dedupe: bool = False) -> Vocabulary:
        """A directory of slot files or a ``.yaml``/``.yml`` file."""
        path = Path(path)
        if path.suffix in (".yaml", ".yml"):
            return cls.from_yaml(path, dedupe=dedupe)
        return cls.from_dir(path, dedupe=dedupe)

    @classmethod
    def default(cls) -> Vocabulary:
        """The vocabulary shipped with the package (6 slots, several hundred entries each)."""
        root = resources.files("edpbrl") / "data" / "vocab"
        return cls.from_dir(Path(str(root)))

    # -- views -----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [s.name for s in self.slots]

    @property
    def sizes(self) -> list[int]:
        return [len(s) for s in self.slots]

    @property
    def horizon(self) -> int:
        return len(self.slots)

    def __len__(self) -> int:
        return len(self.slots)

    def __getitem__(self, h: int) -> Slot:
        return self.slots[h]

    def __repr__(self) -> str:
        body = ", ".join(f"{s.name}={len(s)}" for s in self.slots)
        return f"Vocabulary({body})"

    def prompt(self, indices: Sequence[int]) -> str:
        """Prompt text for token indices ``(a_1..a_h)`` of the first h slots."""
        tokens = [self.slots[h].entries[a] for h, a in enumerate(indices)]
        return join_prompt(tokens, unique=self.repeats == "blank")

    def split(self, test_fraction: float = 0.25, seed: int = 42) -> tuple[Vocabulary, Vocabulary]:
        """Seeded per-slot split into (design, test) vocabularies.

        Each slot is permuted with ``numpy.random.default_rng(seed)`` and its first
        ``round(test_fraction * n)`` entries go to test. A slot with a single entry is kept in both.
        """
        if not 0.0 < test_fraction < 1.0:
            raise VocabularyError(f"test_fraction must be in (0, 1), got {test_fraction}")
        rng = np.random.default_rng(seed)
        design, test = [], []
        for s in self.slots:
            n = len(s)
            if n < 2:
                design.append(s)
                test.append(s)
                continue
            perm = rng.permutation(n)
            n_test = min(max(1, round(test_fraction * n)), n - 1)
            test.append(Slot(s.name, tuple(s.entries[i] for i in sorted(perm[:n_test]))))
            design.append(Slot(s.name, tuple(s.entries[i] for i in sorted(perm[n_test:]))))
        return Vocabulary(design, repeats=self.repeats), Vocabulary(test, repeats=self.repeats)

    def pooled(self, first: int = 1, blank: bool = True) -> Vocabulary:
        """The paper's pooled vocabulary: the first ``first`` slots as they are, then every later
        slot offering the union of all later slots' entries (in order, deduplicated) plus a blank
        entry; a token chosen twice in a prompt becomes blank (``repeats="blank"``)."""
        if not 0 <= first < len(self.slots):
            raise VocabularyError(f"first must be in 0..{len(self.slots) - 1}, got {first}")
        pool = list(dict.fromkeys(e for s in self.slots[first:] for e in s.entries if e))
        if blank:
            pool.append("")
        rest = [Slot(s.name, tuple(pool)) for s in self.slots[first:]]
        return Vocabulary([*self.slots[:first], *rest], repeats="blank")

    def to_dict(self) -> dict[str, list[str]]:
        return {s.name: list(s.entries) for s in self.slots}
