"""The DICOM instance of a photo, built without I/O: UIDs, attributes, the original bytes, and what is refused."""
from __future__ import annotations

import io
import uuid

import pydicom
import pytest
from pydicom.encaps import generate_frames

from sync_server.interop import dicom
from sync_server.interop.uids import instance_uid, study_uid
from sync_server.strip import strip_jpeg_metadata
from tests.interop.dciodvfy import dciodvfy
from tests.support.photos import make_jpeg, make_png

PATIENT = {"id": "IPP-0042", "family": "Dupont", "given": "Zoé", "birth_date": "1980-01-02", "sex": "F"}


def _form(**overrides):
    form = {"sequence_id": str(uuid.uuid4()), "performed_on": "2026-11-27", "procedure": "breast_reduction",
            "anatomical_region": "breast", "laterality": "left", "timing": {"phase": "post_op", "delay_days": 90},
            "surgeon": "Dr Émile Roux"}
    form.update(overrides)
    return form


def _photo(mime="image/jpeg", view="frontal"):
    return {"id": str(uuid.uuid4()), "mime": mime, "captured_at": "2026-11-27T09:30:15Z", "view": view}


def _bytes(jpeg, photo=None, form=None, patient=None):
    return dicom.build(jpeg, photo=photo or _photo(), form=form or _form(), patient=patient or PATIENT,
                       instance_number=1, issuer="urn:oid:1.2.250.1.71.4.2.7")


def _build(jpeg, photo=None, form=None, patient=None):
    return pydicom.dcmread(io.BytesIO(_bytes(jpeg, photo, form, patient)))


def test_uids_derive_from_the_ids_so_a_retry_sends_the_same_instance():
    photo_id = str(uuid.uuid4())
    assert instance_uid(photo_id) == instance_uid(photo_id) != instance_uid(str(uuid.uuid4()))
    assert instance_uid(photo_id).startswith("2.25.") and len(instance_uid(photo_id)) <= 64
    assert study_uid(photo_id) != instance_uid(photo_id)


def test_the_original_jpeg_is_encapsulated_byte_for_byte_less_its_camera_metadata():
    jpeg = make_jpeg(640, 480, seed=3)
    ds = _build(jpeg)
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    sent = strip_jpeg_metadata(jpeg)
    assert b"ClinPhoto test camera" in jpeg and b"ClinPhoto test camera" not in sent
    assert frame.rstrip(b"\x00") == sent.rstrip(b"\x00") and len(frame) - len(sent) in (0, 1)
    assert (ds.Rows, ds.Columns, ds.SamplesPerPixel) == (480, 640, 3)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"


def test_a_body_photo_is_coded_and_not_flagged_recognisable():
    form = _form()
    photo = _photo(view="left_oblique")
    ds = _build(make_jpeg(64, 48), photo, form)
    assert ds.SOPClassUID == dicom.VL_PHOTOGRAPHIC_IMAGE and ds.Modality == "XC"
    assert ds.SOPInstanceUID == instance_uid(photo["id"]) and ds.StudyInstanceUID == study_uid(form["sequence_id"])
    assert ds.AnatomicRegionSequence[0].CodeValue == "76752008"  # breast
    [context] = ds.AcquisitionContextSequence  # the view, where the IOD has a place for it
    assert (context.ValueType, context.ConceptNameCodeSequence[0].CodeValue) == ("CODE", "111031")
    assert context.ConceptCodeSequence[0].CodeValue == "260421001" and "ViewCodeSequence" not in ds
    assert ds.ImageLaterality == "L" and ds.RecognizableVisualFeatures == "NO"
    assert ds.AcquisitionDateTime.startswith("20261127093015")
    assert str(ds.OperatorsName) == "Dr Émile Roux^" and ds.IssuerOfPatientID == "urn:oid:1.2.250.1.71.4.2.7"
    assert str(ds.PatientName) == "Dupont^Zoé" and ds.PatientBirthDate == "19800102"


def test_face_views_are_flagged_recognisable():
    assert _build(make_jpeg(64, 48), form=_form(anatomical_region="face")).RecognizableVisualFeatures == "YES"


def test_png_and_progressive_jpeg_are_not_encapsulable_rather_than_converted():
    with pytest.raises(dicom.NotEncapsulable):
        dicom.build(make_png(), photo=_photo("image/png"), form=_form(), patient=PATIENT, instance_number=1,
                    issuer="x")
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(out, format="JPEG", progressive=True)
    with pytest.raises(dicom.NotEncapsulable):
        dicom.build(out.getvalue(), photo=_photo(), form=_form(), patient=PATIENT, instance_number=1, issuer="x")


def test_what_goes_to_the_pacs_carries_no_camera_metadata_and_the_same_pixels():
    from PIL import Image
    from tests.test_strip_metadata import IDENTIFYING, camera_jpeg
    original = camera_jpeg()
    kept = bytes(original)
    ds = _build(original)
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    for text in IDENTIFYING:
        assert text not in frame, text
    assert Image.open(io.BytesIO(frame)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
    assert original == kept  # the stored original is not touched
@pytest.mark.parametrize("case", ["body", "face", "no_view", "long_names", "odd_patient"])
def test_dciodvfy_reports_no_error_and_no_extension_or_retired_form(case):
    form, photo, patient = _form(), _photo(), dict(PATIENT)
    if case == "face":
        form, photo = _form(anatomical_region="face", laterality="not_applicable"), _photo(view="left_oblique")
    elif case == "no_view":
        photo = _photo(view="detail")
    elif case == "long_names":
        form = _form(surgeon="Professeur Marie-Élisabeth de La Tour d'Auvergne-Lauraguais, chef de service")
        patient.update(family="Ébrard-" + "Montmorency" * 8, given="Éléonore-" + "Joséphine" * 6)
    elif case == "odd_patient":  # values stored before the feed checked them, and the HL7 family Smith^Jones
        patient.update(family="Smith^Jones", given="Ann=Marie\\x", birth_date="1980-13-02", sex="Q")
    findings = dciodvfy(_bytes(make_jpeg(64, 48), photo, form, patient))
    assert [f for f in findings if f.startswith("Error")] == []
    assert not [f for f in findings if "Standard Extended" in f or "Retired Person Name" in f
                or "not present in standard DICOM IOD" in f]


def test_person_names_are_family_caret_given_within_64_bytes_per_group():
    ds = _build(make_jpeg(64, 48), form=_form(surgeon="X" * 120),
                patient={**PATIENT, "family": "Smith^Jones", "given": "É" * 60, "birth_date": "1980"})
    assert str(ds.PatientName).split("^")[0] == "Smith Jones" and len(str(ds.PatientName).encode()) <= 64
    assert str(ds.OperatorsName) == "X" * 63 + "^" and ds.PatientBirthDate == ""
