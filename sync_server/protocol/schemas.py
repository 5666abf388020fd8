"""The JSON Schemas of ``schemas/``: loaded once, and validation that never echoes a value.

Every document that crosses the wire has a schema there, shared with the capture app. Violations
name *where* a document is wrong (a JSON pointer) and *which rule* it breaks, never the offending
value: that value may be a patient identifier, and violations end up in error bodies and logs.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_NAMES = ("sequence", "batch-manifest", "receipt", "error", "enrollment", "views", "view-protocols")
DATA_NAMES = ("views", "view-protocols")
_ENUM_LISTED_MAX = 20  # enums up to this size are spelled out in messages (their values come from the schema)


@dataclasses.dataclass(frozen=True)
class SchemaViolation:
    path: str  # JSON pointer to the offending place, e.g. "/photos/3/sha256" ("" is the document itself)
    message: str  # which rule is broken; never contains the offending value


def schemas_dir() -> Path:
    override = os.environ.get("CLINPHOTO_SCHEMAS_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "schemas"


def load_schema(name: str) -> dict[str, Any]:
    """A copy of the schema ``<name>.schema.json`` (callers may embed or modify it freely)."""
    return copy.deepcopy(_catalogue().schemas[_known(name, SCHEMA_NAMES)])


def load_json(name: str) -> Any:
    """A copy of the data file ``<name>.json`` of ``schemas/`` ("views" or "view-protocols")."""
    return copy.deepcopy(_catalogue().data[_known(name, DATA_NAMES)])


def validate(name: str, document: object) -> list[SchemaViolation]:
    """Every violation of schema ``name`` by ``document``, sorted by path; empty when valid."""
    validator = _catalogue().validators[_known(name, SCHEMA_NAMES)]
    found: set[SchemaViolation] = set()
    for error in validator.iter_errors(document):
        found.update(_violations(error))
    return sorted(found, key=lambda v: (v.path, v.message))


def reload() -> None:
    """Forget the loaded schemas (tests that point ``CLINPHOTO_SCHEMAS_DIR`` elsewhere call this)."""
    _catalogue.cache_clear()


@dataclasses.dataclass(frozen=True)
class _Catalogue:
    schemas: Mapping[str, dict[str, Any]]
    data: Mapping[str, Any]
    validators: Mapping[str, Draft202012Validator]


@functools.cache
def _catalogue() -> _Catalogue:
    folder = schemas_dir()
    schemas = {name: _read(folder / f"{name}.schema.json") for name in SCHEMA_NAMES}
    data = {name: _read(folder / f"{name}.json") for name in DATA_NAMES}
    registry: Registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in schemas.values()
    )
    checker = _format_checker()
    validators = {}
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        validators[name] = Draft202012Validator(schema, registry=registry, format_checker=checker)
    return _Catalogue(schemas=schemas, data=data, validators=validators)


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as file:
        return json.load(file)


def _known(name: str, names: tuple[str, ...]) -> str:
    if name not in names:
        raise KeyError(f"unknown schema document {name!r}; known: {', '.join(names)}")
    return name


_RFC3339_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:(?P<second>\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


def _format_checker() -> FormatChecker:
    # jsonschema checks "date-time" only when the optional rfc3339-validator is installed; without it
    # every string would pass silently, so the check is ours.
    checker = FormatChecker(formats=("date", "uuid"))

    @checker.checks("date-time", raises=ValueError)
    def _is_date_time(instance: object) -> bool:
        if not isinstance(instance, str):
            return True
        match = _RFC3339_DATE_TIME.match(instance)
        if match is None:
            return False
        text = instance.upper()
        if match["second"] == "60":  # a leap second is valid RFC 3339; datetime cannot hold it
            text = text[: match.start("second")] + "59" + text[match.end("second"):]
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True

    return checker


def _pointer(parts: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _violations(error: ValidationError) -> list[SchemaViolation]:
    path = _pointer(error.absolute_path)
    keyword, expected = error.validator, error.validator_value
    if keyword == "required" and isinstance(expected, list):
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        return [SchemaViolation(f"{path}/{name}", "is required") for name in expected if name not in instance]
    return [SchemaViolation(path, _message(str(keyword), expected, error))]


def _message(keyword: str, expected: Any, error: ValidationError) -> str:
    # Built only from the schema (keyword and its value), never from error.message or error.instance.
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return "must be of type " + " or ".join(str(k) for k in kinds)
    if keyword == "enum":
        if len(expected) <= _ENUM_LISTED_MAX:
            return "must be one of: " + ", ".join(json.dumps(v, ensure_ascii=False) for v in expected)
        return "is not one of the allowed values"
    if keyword == "const":
        return "must be " + json.dumps(expected, ensure_ascii=False)
    if keyword == "pattern":
        return f"does not match the pattern {expected}"
    if keyword == "format":
        return f"is not a valid {expected}"
    if keyword == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {}))) if isinstance(error.schema, Mapping) else ""
        return "has a property the schema does not allow" + (f" (allowed: {allowed})" if allowed else "")
    if keyword == "propertyNames":
        return "has a property name the schema does not allow"
    bounds = {
        "minLength": "must be at least {} characters long", "maxLength": "must be at most {} characters long",
        "minimum": "must be at least {}", "maximum": "must be at most {}",
        "exclusiveMinimum": "must be greater than {}", "exclusiveMaximum": "must be less than {}",
        "minItems": "must have at least {} items", "maxItems": "must have at most {} items",
        "minProperties": "must have at least {} properties", "maxProperties": "must have at most {} properties",
    }
    if keyword in bounds:
        return bounds[keyword].format(expected)
    if keyword == "uniqueItems":
        return "must not contain duplicate items"
    if keyword == "multipleOf":
        return f"must be a multiple of {expected}"
    return f"breaks the schema rule '{keyword}'"
