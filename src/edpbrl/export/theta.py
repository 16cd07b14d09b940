"""``theta``: θ̂ with its metadata (summary, best prompts, config, certificate) as JSON plus the
vector as ``.npy`` next to it; ``npy``: only the vector (HTTP convenience)."""

from __future__ import annotations

import datetime as _dt
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ..store.base import Store
from ..version import __version__
from .base import Export, ExportError, Format, dumps, iso, public_id, session_row
from .registry import register_format


def theta_payload(store: Store, sid: str, personalizer=None, *, top: int = 5, n_prompts: int = 4) -> dict:
    row = session_row(store, sid)
    p = personalizer
    if p is None:
        from ..replay import restore

        p = restore(store, sid)
    theta = np.asarray(p.fit(), dtype=float)
    from ..personalizer import RESULT_MIN_DIFF_SLOTS

    # the varied best prompts, as the app's results page shows them (and computed once for both)
    prompts = list(p.best_prompts(n=n_prompts, min_diff_slots=RESULT_MIN_DIFF_SLOTS))
    scores = np.asarray(p.score(prompts), dtype=float).tolist() if prompts else []
    return {
        "format": "edpbrl-theta/1",
        "session": public_id(sid),
        "style": row["style"],
        "created_at": iso(row["created_at"]),
        "exported_at": iso(_dt.datetime.now(tz=_dt.timezone.utc).timestamp()),
        "edpbrl_version": __version__,
        "dim": int(theta.shape[0]),
        "n_answers": int(p.n_answered),
        "n_questions": int(p.n_questions),
        "theta": theta.tolist(),
        "summary": p.summary(top=top),
        "best_prompts": [{"prompt": t, "score": s} for t, s in zip(prompts, scores, strict=True)],
        "config": row["config"],
        "certificate": row["certificate"],
    }


def read_theta(path: str | Path) -> np.ndarray:
    """θ̂ from a file written by ``edpbrl export``: the ``theta`` JSON (``--format theta``, a
    ``"theta"`` list) or a ``.npy`` vector (``--format npy``, or the one beside the JSON).

    ``.npy`` files are read with ``allow_pickle=False``. Raises ExportError (one line) for a missing
    or unreadable file, or one that holds no numeric vector; finiteness and dimension are the
    caller's to check (:func:`edpbrl.prompts.check_theta`)."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"θ file not found: {path}")
    try:
        head = path.read_bytes()[:6]
    except OSError as exc:
        raise ExportError(f"cannot read θ file {path}: {exc.strerror or exc}") from None
    if head == b"\x93NUMPY":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            if "pickle" in str(exc):
                raise ExportError(f"θ file {path} holds Python objects, not numbers") from None
            raise ExportError(f"cannot read θ file {path}: {exc}") from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ExportError(f"cannot read θ file {path}: {exc}") from None
        if arr.dtype.kind not in "iuf":
            raise ExportError(f"θ file {path} holds {arr.dtype} values, not numbers")
        return np.asarray(arr, dtype=np.float64)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ExportError(
            f"θ file {path} is neither .npy nor JSON (give a file from `edpbrl export --format theta|npy`)"
        ) from None
    vec = data.get("theta") if isinstance(data, dict) else data
    if not isinstance(vec, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in vec
    ):
        raise ExportError(f"θ file {path} has no numeric 'theta' list")
    return np.asarray(vec, dtype=np.float64)


def _npy(theta: list[float]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(theta, dtype=np.float64), allow_pickle=False)
    return buf.getvalue()


class ThetaFormat(Format):
    """θ̂ JSON with metadata, plus the vector as .npy."""

    needs_model = True
    from_result = True  # (theta_payload: fit, best_prompts and summary as the results page asks)
    text = True  # the JSON; the .npy beside it is not written to stdout
    companions = (".npy",)

    def build(self, store: Store, sid: str, *, personalizer=None) -> Export:
        payload = theta_payload(store, sid, personalizer)
        pub = public_id(sid)
        return Export(
            f"edpbrl-{pub}-theta.json",
            "application/json",
            dumps(payload, indent=2).encode("utf-8"),
            extra={f"edpbrl-{pub}-theta.npy": _npy(payload["theta"])},
        )


class NpyFormat(Format):
    """θ̂ only, as .npy."""

    needs_model = True
    from_result = True

    def build(self, store: Store, sid: str, *, personalizer=None) -> Export:
        payload = theta_payload(store, sid, personalizer)
        return Export(
            f"edpbrl-{public_id(sid)}-theta.npy", "application/octet-stream", _npy(payload["theta"])
        )


register_format("theta", ThetaFormat(), help="θ̂ JSON (summary, best prompts) + .npy")
register_format("npy", NpyFormat(), help="θ̂ only, as .npy")
