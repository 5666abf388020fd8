"""Coded values the sequence form and views carry, read once from ``schemas/`` (the single source)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from ..settings import REPO_ROOT

SCHEMAS = REPO_ROOT / "schemas"

# Regions whose photos show a face, or enough of one to recognise the patient.
FACE_REGIONS = frozenset({"face", "nose", "eyelids", "neck", "scalp"})


@dataclass(frozen=True)
class Code:
    value: str
    meaning: str
    scheme: str = "SCT"  # DICOM coding scheme designator; FHIR system below

    @property
    def fhir_system(self) -> str:
        return "http://snomed.info/sct" if self.scheme == "SCT" else self.scheme


def _load(name: str) -> Any:
    return json.loads((SCHEMAS / name).read_text())


@functools.lru_cache(maxsize=1)
def _form() -> dict[str, Any]:
    return _load("sequence.schema.json")["properties"]


@functools.lru_cache(maxsize=1)
def _views() -> dict[str, dict[str, Any]]:
    return {v["code"]: v for v in _load("views.json")["views"]}


def _coded(field: str, value: str | None) -> Code | None:
    spec = _form()[field]
    snomed = spec.get("x-snomed", {}).get(value or "")
    if not snomed:
        return None
    return Code(snomed, spec.get("x-labels", {}).get(value, {}).get("en", value))


def region(value: str | None) -> Code | None:
    return _coded("anatomical_region", value)


def laterality(value: str | None) -> Code | None:
    return _coded("laterality", value)


def view(value: str) -> tuple[Code | None, str]:
    """(SNOMED code or None, English label) of a view code."""
    spec = _views().get(value)
    if spec is None:
        return None, value
    label = spec["label"]["en"]
    return (Code(spec["snomed"], label) if spec.get("snomed") else None), label


def procedure_label(value: str | None) -> str:
    return _form()["procedure"].get("x-labels", {}).get(value or "", {}).get("en", value or "")
