"""The JSON Schemas of schemas/: examples, codes, bilingual labels, and violations that never leak values."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator

from sync_server.protocol.schemas import (
    DATA_NAMES, SCHEMA_NAMES, SchemaViolation, load_json, load_schema, schemas_dir, validate,
)

SCHEMAS = schemas_dir()
EXAMPLES = SCHEMAS / "examples"
WIRE_NAMES = ("sequence", "batch-manifest", "receipt", "error", "enrollment")
SNOMED_ID = re.compile(r"^[1-9][0-9]{5,17}$")


def _examples(kind: str) -> list[tuple[str, Path]]:
    return [(folder.name, path) for folder in sorted(EXAMPLES.iterdir()) if folder.is_dir()
            for path in sorted(folder.glob(f"{kind}-*.json"))]


def _expected(schema: str) -> dict[str, list[str]]:
    return json.loads((EXAMPLES / schema / "expected.json").read_text(encoding="utf-8"))


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _subschemas(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (pointer, schema) that describes a property or an array item, recursively."""
    if not isinstance(schema, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        yield f"{where}/properties/{name}", sub
        yield from _subschemas(sub, f"{where}/properties/{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _subschemas(schema[key], f"{where}/{key}")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12_with_id_named_after_its_file(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://clinphoto.example/schemas/{name}.schema.json"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_property_has_an_english_title_and_description(name: str) -> None:
    for pointer, sub in _subschemas(load_schema(name)):
        if "$ref" in sub and len(sub) == 1:
            continue
        assert sub.get("title") and sub.get("description"), f"{name}{pointer}"


@pytest.mark.parametrize("name", WIRE_NAMES)
def test_every_object_refuses_unknown_properties(name: str) -> None:
    objects = [("", load_schema(name))] + list(_subschemas(load_schema(name)))
    for pointer, sub in objects:
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{name}{pointer}"


@pytest.mark.parametrize(("schema", "path"), _examples("valid"), ids=lambda v: getattr(v, "name", v))
def test_valid_example_has_no_violation(schema: str, path: Path) -> None:
    assert validate(schema, _load(path)) == []


@pytest.mark.parametrize(("schema", "path"), _examples("invalid"), ids=lambda v: getattr(v, "name", v))
def test_invalid_example_violates_the_expected_path(schema: str, path: Path) -> None:
    expected = _expected(schema)
    assert path.name in expected, f"{path.name} has no entry in {schema}/expected.json"
    found = {v.path for v in validate(schema, _load(path))}
    assert found, "an invalid example must have a violation"
    assert set(expected[path.name]) <= found, f"expected {expected[path.name]}, got {sorted(found)}"


def test_every_expected_entry_names_an_existing_example() -> None:
    for folder in EXAMPLES.iterdir():
        for name in _expected(folder.name):
            assert (folder / name).is_file(), f"{folder.name}/{name}"


def test_every_wire_schema_has_valid_and_invalid_examples() -> None:
    for name in WIRE_NAMES:
        assert list((EXAMPLES / name).glob("valid-*.json")), name
        assert list((EXAMPLES / name).glob("invalid-*.json")), name


def test_valid_examples_name_existing_views_and_protocols() -> None:
    views = {v["code"] for v in load_json("views")["views"]}
    protocols = set(load_json("view-protocols")["protocols"])
    for _, path in _examples("valid"):
        document = _load(path)
        for photo in document.get("photos", []) if "version" in document else []:
            assert photo["view"] in views, path.name
        for sequence in _forms(document):
            assert sequence["view_protocol"] in protocols, path.name


def _forms(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The sequence forms of an example: the document itself, or a manifest's sealed forms opened."""
    if "view_protocol" in document:
        return [document]
    from crypto import b64url_decode, key_id, open_form
    from crypto.vectors.generate import test_seal_key

    key = test_seal_key(1)
    return [open_form(b64url_decode(s["sealed_form"]), {key_id(key.public_key()): key}, sequence_id=s["sequence_id"])
            for s in document.get("sequences", [])]


def test_manifest_examples_seal_forms_the_sequence_schema_accepts() -> None:
    for path in (EXAMPLES / "batch-manifest").glob("valid-*.json"):
        forms = _forms(_load(path))
        assert forms, path.name
        for form in forms:
            assert validate("sequence", form) == [], path.name


# --- the sequence form: bilingual, ordered, coded

def _sequence_fields() -> dict[str, dict[str, Any]]:
    return load_schema("sequence")["properties"]


def _assert_bilingual(value: Any, where: str) -> None:
    assert isinstance(value, dict) and set(value) == {"en", "fr"}, where
    assert all(isinstance(text, str) and text.strip() for text in value.values()), where


def test_every_form_field_has_a_bilingual_label_and_a_unique_order() -> None:
    schema = load_schema("sequence")
    _assert_bilingual(schema["x-label"], "sequence")
    for group in (_sequence_fields(), _sequence_fields()["timing"]["properties"]):
        orders = []
        for name, field in group.items():
            _assert_bilingual(field.get("x-label"), name)
            assert isinstance(field.get("x-order"), int), name
            orders.append(field["x-order"])
        assert sorted(orders) == list(range(1, len(orders) + 1))


def test_every_enum_value_has_a_bilingual_label() -> None:
    schema = load_schema("sequence")
    enums = [(pointer, sub) for pointer, sub in _subschemas(schema) if "enum" in sub]
    assert {p.rsplit("/", 1)[-1] for p, _ in enums} == {
        "procedure", "anatomical_region", "laterality", "phase", "consent"}
    for pointer, sub in enums:
        assert list(sub["x-labels"]) == sub["enum"], pointer
        for value in sub["enum"]:
            _assert_bilingual(sub["x-labels"][value], f"{pointer}/{value}")


def test_procedure_codes_and_french_labels() -> None:
    procedure = _sequence_fields()["procedure"]
    assert {code: label["fr"] for code, label in procedure["x-labels"].items()} == {
        "rhinoplasty": "Rhinoplastie", "blepharoplasty": "Blépharoplastie", "facelift": "Lifting cervico-facial",
        "breast_reduction": "Réduction mammaire", "breast_augmentation": "Augmentation mammaire",
        "breast_reconstruction": "Reconstruction mammaire", "abdominoplasty": "Abdominoplastie",
        "liposuction": "Liposuccion", "skin_tumour_excision": "Exérèse de tumeur cutanée",
        "skin_graft": "Greffe de peau", "flap": "Lambeau", "hand_surgery": "Chirurgie de la main",
        "burn": "Brûlure", "scar_revision": "Reprise de cicatrice", "wound": "Plaie", "other": "Autre",
    }


def test_regions_and_lateralities_carry_their_snomed_ct_codes() -> None:
    region = _sequence_fields()["anatomical_region"]
    assert region["x-snomed"] == {
        "face": "89545001", "nose": "45206002", "eyelids": "80243003", "neck": "45048000", "scalp": "41695006",
        "breast": "76752008", "trunk": "22943007", "abdomen": "818983003", "back": "77568009",
        "perineum": "38864007", "upper_limb": "53120007", "hand": "85562004", "lower_limb": "61685007",
        "foot": "56459004",
    }
    laterality = _sequence_fields()["laterality"]
    assert laterality["x-snomed"] == {"left": "7771000", "right": "24028007", "bilateral": "51440002",
                                      "not_applicable": "385432009"}
    for field in (region, laterality):
        assert list(field["x-snomed"]) == field["enum"]
        assert all(SNOMED_ID.match(code) for code in field["x-snomed"].values())


def test_post_op_needs_a_delay_and_other_phases_do_not() -> None:
    base = _load(EXAMPLES / "sequence" / "valid-rhinoplasty-pre-op.json")
    assert validate("sequence", {**base, "timing": {"phase": "post_op"}}) == [
        SchemaViolation("/timing/delay_days", "is required")]
    for phase in ("pre_op", "intra_op"):
        assert validate("sequence", {**base, "timing": {"phase": phase}}) == []
        assert validate("sequence", {**base, "timing": {"phase": phase, "delay_days": 3}}) == []


# --- views and view protocols

def test_views_and_protocols_match_their_schemas() -> None:
    assert validate("views", load_json("views")) == []
    assert validate("view-protocols", load_json("view-protocols")) == []


def test_view_codes_are_unique_and_carry_the_dicom_vl_view_codes() -> None:
    views = load_json("views")["views"]
    codes = [v["code"] for v in views]
    assert len(codes) == len(set(codes))
    snomed = {v["code"]: v["snomed"] for v in views}
    assert {code: snomed[code] for code in (
        "frontal", "left_lateral", "right_lateral", "left_oblique", "right_oblique", "basal")} == {
        "frontal": "399033003", "left_lateral": "399173006", "right_lateral": "399198007",
        "left_oblique": "260421001", "right_oblique": "260424009", "basal": "399255003"}
    for view in views:
        assert view["snomed"] is None or view["source"], view["code"]


def test_every_protocol_view_exists_and_every_procedure_has_a_default_protocol() -> None:
    views = {v["code"] for v in load_json("views")["views"]}
    document = load_json("view-protocols")
    protocols = document["protocols"]
    procedures = _sequence_fields()["procedure"]["enum"]
    for pid, protocol in protocols.items():
        assert set(protocol["views"]) <= views, pid
    assert set(document["procedure_defaults"]) == set(procedures)
    for procedure, pid in document["procedure_defaults"].items():
        assert pid in protocols, procedure
        assert procedure in protocols[pid]["procedures"], procedure
    assert set(document.get("phase_defaults", {}).values()) <= set(protocols)


def test_rhinoplasty_protocol_lists_the_six_standard_views_in_order() -> None:
    assert load_json("view-protocols")["protocols"]["rhinoplasty"]["views"] == [
        "frontal", "right_lateral", "left_lateral", "right_oblique", "left_oblique", "basal"]


def test_load_json_refuses_names_outside_the_data_files() -> None:
    assert set(DATA_NAMES) == {"views", "view-protocols"}
    for name in ("../pyproject", "sequence.schema", "views.json"):
        with pytest.raises(KeyError):
            load_json(name)
    with pytest.raises(KeyError):
        validate("../../etc/passwd", {})


def test_loaded_documents_are_copies() -> None:
    load_json("views")["views"].clear()
    load_schema("sequence")["properties"].clear()
    assert load_json("views")["views"] and load_schema("sequence")["properties"]


# --- violations never echo values

SECRET = "IPP-SECRET-7731"


def _leaky_manifest() -> dict[str, Any]:
    manifest = _load(EXAMPLES / "batch-manifest" / "valid-one-sequence-two-photos.json")
    manifest["sequences"][0]["sealed_form"] = f"{SECRET}+{SECRET}"
    manifest["sequences"].append(_load(EXAMPLES / "sequence" / "valid-rhinoplasty-pre-op.json"))
    sequence = manifest["sequences"][1]
    sequence.update(sequence_id=SECRET, procedure=SECRET, anatomical_region=SECRET, laterality=SECRET,
                    consent=SECRET, view_protocol=f"../{SECRET}", performed_on=SECRET, created_at=SECRET,
                    surgeon=SECRET * 10, note=f"{SECRET}\u0000" + "x" * 2000, timing={"phase": SECRET, SECRET: SECRET})
    sequence[SECRET] = SECRET
    photo = manifest["photos"][0]
    photo.update(photo_id=SECRET, sequence_id=SECRET, view=SECRET, captured_at=SECRET, sha256=SECRET,
                 sealed_sha256=SECRET, sealed_size=SECRET, mime=SECRET, width=-7731)
    photo[SECRET] = {SECRET: SECRET}
    manifest["photos"][1] = SECRET
    manifest.update(batch_id=SECRET, device_id=[SECRET], version=SECRET, created_at=SECRET)
    manifest[SECRET] = SECRET
    return manifest


@pytest.mark.parametrize("name", WIRE_NAMES)
def test_violations_never_contain_the_offending_value(name: str) -> None:
    documents: list[Any] = [SECRET, [SECRET], {SECRET: SECRET}, {"error": {"code": SECRET, "message": 7731}},
                            {"code": SECRET * 5, "label": SECRET + "\u0007"}, {"receipt": SECRET, "signature": SECRET}]
    if name in ("batch-manifest", "sequence"):
        manifest = _leaky_manifest()
        documents.append(manifest if name == "batch-manifest" else manifest["sequences"][1])
    for document in documents:
        violations = validate(name, document)
        assert violations
        for violation in violations:
            assert SECRET not in violation.path and SECRET not in violation.message, violation
            assert "7731" not in violation.path + violation.message, violation


def test_violations_point_at_the_place_with_json_pointers() -> None:
    violations = validate("batch-manifest", _leaky_manifest())
    paths = {v.path for v in violations}
    assert {"/batch_id", "/device_id", "/version", "/photos/0/sha256", "/photos/0/sealed_size", "/photos/1",
            "/sequences/0/sealed_form", "/sequences/1", ""} <= paths
    assert all(p == "" or p.startswith("/") for p in paths)


def test_date_time_is_checked_even_without_optional_format_packages() -> None:
    base = _load(EXAMPLES / "sequence" / "valid-rhinoplasty-pre-op.json")
    for good in ("2026-11-27T09:41:07Z", "2026-11-27t09:41:07.123456789+01:00", "2016-12-31T23:59:60Z"):
        assert validate("sequence", {**base, "created_at": good}) == [], good
    for bad in ("2026-11-27 09:41:07Z", "2026-11-27T09:41:07", "2026-13-01T00:00:00Z", "2026-11-27T25:00:00Z", "now"):
        assert validate("sequence", {**base, "created_at": bad}) == [
            SchemaViolation("/created_at", "is not a valid date-time")], bad


def test_the_test_fixtures_build_documents_the_schemas_accept() -> None:
    from crypto import key_id
    from crypto.vectors.generate import test_seal_key
    from tests.support.photos import SealedPhoto, manifest, sequence_form

    sequence_id = "3f0c9a52-7d1e-4b8a-9c2e-5a6b7c8d9e01"
    photos = [SealedPhoto(b"plain%d" % i, b"sealed%d" % i, f"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5{i}",
                          sequence_id, "image/jpeg") for i in range(7)]
    key = test_seal_key(1)
    document = manifest("d3a4b5c6-7e8f-4a9b-8c0d-1e2f3a4b5c6d", [sequence_form(sequence_id)], photos,
                        seal_key=(key.public_key(), key_id(key.public_key())))
    assert validate("batch-manifest", document) == []
    assert validate("sequence", _forms(document)[0]) == []
