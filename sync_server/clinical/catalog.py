"""What the shared schemas say about views, protocols and labels, and the consent rules. Pure."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

LEVELS = ("withdrawn", "record", "teaching", "publication")  # consent levels, weakest first
PURPOSES = ("care", "teaching", "publication")
# Anatomical regions whose photos show the face (identifiable whatever the view): teaching needs
# publication consent for them too. views.json has no face flag, so the region decides, safely.
FACE_REGIONS = frozenset({"face", "nose", "eyelids", "neck", "scalp"})


@functools.lru_cache(maxsize=None)
def _load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def view_label(code: str) -> dict[str, str]:
    for view in _load("views.json")["views"]:
        if view["code"] == code:
            return dict(view["label"])
    return {"en": code, "fr": code}


def protocol_views(protocol_id: str) -> list[str]:
    protocol = _load("view-protocols.json")["protocols"].get(protocol_id)
    return list(protocol["views"]) if protocol else []


def coded(field: str, code: str | None) -> dict[str, str] | None:
    """{"code", "label_en", "label_fr"} from the sequence schema's x-labels of ``field``."""
    if code is None:
        return None
    labels = _load("sequence.schema.json")["properties"][field].get("x-labels", {}).get(code, {})
    return {"code": code, "label_en": labels.get("en", code), "label_fr": labels.get("fr", code)}


def protocol(form: Mapping[str, Any], views_present: Iterable[str]) -> dict[str, Any]:
    expected = protocol_views(str(form.get("view_protocol", "")))
    present = sorted(set(views_present), key=lambda v: (expected.index(v) if v in expected else len(expected), v))
    return {"id": form.get("view_protocol"), "expected": expected, "present": present,
            "complete": set(expected) <= set(present)}


def shows_face(form: Mapping[str, Any]) -> bool:
    return form.get("anatomical_region") in FACE_REGIONS


def allowed(purpose: str, level: str, face: bool) -> bool:
    """May a photo at this consent level leave for this purpose? Withdrawn allows nothing."""
    if level not in LEVELS or level == "withdrawn" or purpose not in PURPOSES:
        return False
    if purpose == "care":
        return True
    if purpose == "teaching" and not face:
        return level in ("teaching", "publication")
    return level == "publication"
