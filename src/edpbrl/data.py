"""Data that does not ship with the package: the paper's word lists and style sentences.

The authors of the paper published the slot vocabularies and the ground-truth style sentences of
their experiments in their public repository. :func:`fetch_paper_data` downloads them at pinned
commits, checks every file against a SHA-256 checksum and stores them under
``<data dir>/paper/{vocabulary,styles}/`` (``$EDPBRL_DATA_DIR`` or ``~/.cache/edpbrl/data``); on
an offline machine it copies them from a local directory with the same layout instead
(``source=``). Nothing is ever fetched implicitly.

Afterwards ``paper`` names the vocabulary and ``paper:NAME`` a style (``paper:sunny``,
``paper:medieval``, ``paper:technological``) wherever a vocabulary or style is asked for.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import EdpbrlError

PAPER_REPOSITORY = "Mojusko/experiment-design-mdp"
RAW_BASE = "https://raw.githubusercontent.com"
DATA_ENV = "EDPBRL_DATA_DIR"


@dataclass(frozen=True)
class DataFile:
    """One pinned file: where it goes (``path``), where it comes from (``source`` in the
    repository at ``commit``) and its SHA-256."""

    path: str
    source: str
    commit: str
    sha256: str


PAPER_FILES = (
    DataFile(
        "vocabulary/1_bases.txt",
        "experiments/llm/vocabulary3/1_bases.txt",
        "7039de914fb514f6c4be6296b6d2ced41005a4a0",
        "4727a5f6d304ae46a88d4bb24d811af8bc4f5b63444668361322f8ecd1b1b9db",
    ),
    DataFile(
        "vocabulary/2_ambient.txt",
        "experiments/llm/vocabulary3/2_ambient.txt",
        "9eabc2bfcdf60d2ad5bfa6aa2b88860342f22d8a",
        "a22b12344585c43d4664ce13a07f39184b19acec96c36e64877bc8fb99742716",
    ),
    DataFile(
        "vocabulary/3_style.txt",
        "experiments/llm/vocabulary3/3_style.txt",
        "6eafe069daf2eec402f8b2e786fa6377b755d772",
        "e72d35a3bfd5966527eb3481736ae58fa100b0d950fae5c29007ac77673b5173",
    ),
    DataFile(
        "vocabulary/4_composition.txt",
        "experiments/llm/vocabulary3/4_composition.txt",
        "4ecc8978b5aaca82e073ea60317bf5f85b212553",
        "03b87067ef94098eeaaee7807ad264c3ee86317189f9ed34d2a5a099baea8051",
    ),
    DataFile(
        "vocabulary/5_lighting.txt",
        "experiments/llm/vocabulary3/5_lighting.txt",
        "b63a906b7c9dccc83d1f66e50acc48b97704e8a2",
        "df1b31d993c6de046d647eafec875f6ce24504bb9308b89c1d6bb17a0f397e7a",
    ),
    DataFile(
        "vocabulary/6_detail.txt",
        "experiments/llm/vocabulary3/6_detail.txt",
        "3be5d014f382626b68c9cde073ce60eb9a23a939",
        "dff8a317a13ae8d2a209ec4cce8a174fe878907e824bbb853b3f6032c4b0d23d",
    ),
    DataFile(
        "styles/sunny.txt",
        "experiments/llm/models/sunny.txt",
        "e235ed74ec51e839aec3e5b367d169ede7c9b7dc",
        "2f097372c7a2c1f6c11f3a355e0889205647ca6a4adcb3cb68da69fe3ead0ca9",
    ),
    DataFile(
        "styles/medieval.txt",
        "experiments/llm/models/medieval.txt",
        "2c896b93dd97d7950acb33048dbbb45d18954f71",
        "309f3ca222b3cd5f9ef5f7b6ded9443392b54380e80255ecfa411e65a270b9db",
    ),
    DataFile(
        "styles/technological.txt",
        "experiments/llm/models/technological.txt",
        "2c896b93dd97d7950acb33048dbbb45d18954f71",
        "44a5015ec8c99230d63ec611242a86499f6c6bff3ce7d362259f94f09fe75123",
    ),
)


def data_dir() -> Path:
    """``$EDPBRL_DATA_DIR`` if set, else ``~/.cache/edpbrl/data``."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "edpbrl" / "data"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verified(path: Path, f: DataFile) -> bool:
    try:
        return path.is_file() and _sha256(path.read_bytes()) == f.sha256
    except OSError:
        return False


def paper_dir(*, required: bool = True, files: tuple[DataFile, ...] | None = None) -> Path:
    """The directory of the fetched paper data; with ``required``, a one-line error naming the
    command to run when any file is missing or does not match its checksum."""
    root = data_dir() / "paper"
    files = PAPER_FILES if files is None else files
    if required:
        bad = [f.path for f in files if not _verified(root / f.path, f)]
        if bad:
            raise EdpbrlError(
                f"the paper's data is not in {root} ({len(bad)} of {len(files)} files missing or changed): "
                "run `edpbrl data paper` (offline: `edpbrl data paper --from DIR`)"
            )
    return root


def fetch_paper_data(
    *,
    source: str | os.PathLike | None = None,
    url_base: str = RAW_BASE,
    dest: str | os.PathLike | None = None,
    files: tuple[DataFile, ...] | None = None,
    timeout: float = 30.0,
    progress: Callable[[int, int, str], None] | None = None,
) -> Path:
    """Fetch the paper's files into ``dest`` (default: the data directory's ``paper/``).

    ``source``: a local directory with the same layout (``vocabulary/``, ``styles/``) to copy
    from instead of downloading. Otherwise each file is read from
    ``{url_base}/{repository}/{commit}/{path in the repository}`` (``file://`` URLs work too).
    Every file must match its pinned SHA-256 — a mismatch is a one-line error and nothing is
    written for that file. Files already present and verified are kept. Returns ``dest``.
    """
    root = Path(dest).expanduser() if dest is not None else data_dir() / "paper"
    files = PAPER_FILES if files is None else files
    src = Path(source).expanduser() if source is not None else None
    if src is not None and not src.is_dir():
        raise EdpbrlError(f"paper data source directory not found: {src}")
    for i, f in enumerate(files):
        target = root / f.path
        if progress is not None:
            progress(i, len(files), f.path)
        if _verified(target, f):
            continue
        if src is not None:
            try:
                data = (src / f.path).read_bytes()
            except OSError as exc:
                raise EdpbrlError(f"cannot read {src / f.path}: {exc.strerror or exc}") from None
            where = str(src / f.path)
        else:
            where = f"{url_base.rstrip('/')}/{PAPER_REPOSITORY}/{f.commit}/{f.source}"
            try:
                with urllib.request.urlopen(where, timeout=timeout) as r:  # noqa: S310 (pinned URL)
                    data = r.read()
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise EdpbrlError(f"cannot download {where}: {reason} (offline? use --from DIR)") from None
        if _sha256(data) != f.sha256:
            raise EdpbrlError(f"{where} does not match its pinned SHA-256 ({f.sha256[:12]}…); not written")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    if progress is not None:
        progress(len(files), len(files), "verified")
    return root


def resolve_vocabulary(spec: str | os.PathLike | None) -> str | os.PathLike | None:
    """``"paper"`` → the fetched paper vocabulary directory (checked); anything else unchanged."""
    if isinstance(spec, str) and spec == "paper":
        return str(paper_dir() / "vocabulary")
    return spec


def resolve_style(spec: str | os.PathLike) -> str | os.PathLike:
    """``"paper:NAME"`` → the fetched paper style file (checked); anything else unchanged."""
    if isinstance(spec, str) and spec.startswith("paper:"):
        name = spec.split(":", 1)[1]
        styles = sorted(Path(f.path).stem for f in PAPER_FILES if f.path.startswith("styles/"))
        if name not in styles:
            raise EdpbrlError(f"unknown paper style {name!r}: expected one of {', '.join(styles)}")
        return str(paper_dir() / "styles" / f"{name}.txt")
    return spec
