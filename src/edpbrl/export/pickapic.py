"""``pickapic``: the Pick-a-Pic v2 column layout used by Diffusion-DPO.

Columns: ``caption``, ``jpg_0``, ``jpg_1`` (image file paths, ``null`` without a generator),
``label_0``/``label_1`` (1/0, or 0.5/0.5 for "no preference"), ``caption_0``/``caption_1`` (each
image's own prompt) and the usual id columns. Written as JSONL plus an images folder, or as one
``.zip`` holding both.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from pathlib import Path

from ..store.base import Store
from .base import Export, Format, iso, jsonl, public_id, session_row, shared_text
from .registry import register_format


def pickapic_rows(store: Store, sid: str, image_name=None) -> tuple[list[dict], dict[str, Path]]:
    """Rows in the Pick-a-Pic layout and the image files they refer to (name → source path).

    ``image_name(uid)`` gives the path written into ``jpg_0``/``jpg_1`` for an image id.
    """
    session_row(store, sid)
    image_name = image_name or (lambda uid: f"images/{uid}.png")
    rendered = store.images(sid)
    pub = public_id(sid)
    rows, files = [], {}
    for a in store.live_answers(sid):
        if a["action"] == "skip":
            continue
        opts, seeds, order = a["options"], a["seeds"], a["display_order"]
        caption = shared_text(opts)
        per_option = []
        for i, text in enumerate(opts):
            uid = hashlib.sha256(f"{seeds[i]}\x00{text}".encode()).hexdigest()[:20]
            src = rendered.get((text, seeds[i]))
            name = None
            if src is not None and Path(src).is_file():
                name = image_name(uid)
                files[name] = Path(src)
            per_option.append((uid, name))
        for x in range(len(order)):
            for y in range(x + 1, len(order)):
                i, j = order[x], order[y]  # image_0 = the one shown further left
                if a["action"] == "choose":
                    if a["choice"] not in (i, j):
                        continue
                    label_0 = 1.0 if a["choice"] == i else 0.0
                else:
                    label_0 = 0.5
                best = per_option[i][0] if label_0 == 1.0 else per_option[j][0]
                rows.append(
                    {
                        "ranking_id": f"{pub}-{a['id']}-{i}-{j}",
                        "user_id": pub,
                        "created_at": iso(a["answered_at"]),
                        "caption": caption,
                        "caption_0": opts[i],
                        "caption_1": opts[j],
                        "image_0_uid": per_option[i][0],
                        "image_1_uid": per_option[j][0],
                        "jpg_0": per_option[i][1],
                        "jpg_1": per_option[j][1],
                        "label_0": label_0,
                        "label_1": 1.0 - label_0,
                        "best_image_uid": best if label_0 != 0.5 else "",
                        "are_different": opts[i] != opts[j],
                        "has_label": label_0 != 0.5,
                        "num_example_per_prompt": 1,
                        "model_0": "edpbrl",
                        "model_1": "edpbrl",
                        "seed_0": seeds[i],
                        "seed_1": seeds[j],
                    }
                )
    return rows, files


class PickapicFormat(Format):
    """Pick-a-Pic columns for Diffusion-DPO: a zip (JSONL + images/) or JSONL with an image folder."""

    def build(self, store: Store, sid: str, *, personalizer=None) -> Export:
        rows, files = pickapic_rows(store, sid)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("pickapic.jsonl", jsonl(rows))
            for name, src in files.items():
                zf.write(src, name)
        return Export(f"edpbrl-{public_id(sid)}-pickapic.zip", "application/zip", buf.getvalue())

    def write(self, store: Store, sid: str, out: Path) -> list[Path]:
        """``out`` ending in ``.zip``: the zip. Otherwise ``out`` as JSONL with the images copied to
        ``<stem>_images/`` beside it (``jpg_0``/``jpg_1`` are paths relative to the JSONL file)."""
        if out.suffix == ".zip":
            return super().write(store, sid, out)
        img_dir = out.parent / f"{out.stem}_images"
        rows, files = pickapic_rows(store, sid, lambda uid: f"{img_dir.name}/{uid}.png")
        out.write_bytes(jsonl(rows))
        written = [out]
        for name, src in files.items():
            dst = out.parent / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            written.append(dst)
        return written


register_format(
    "pickapic", PickapicFormat(), help="Pick-a-Pic columns for Diffusion-DPO (zip or JSONL + images)"
)
