"""A filed photo as a DICOM VL Photographic Image, its original JPEG encapsulated, pixels as they are.

Camera metadata (EXIF, XMP, IPTC, maker notes, comments) is removed losslessly first
(``sync_server/strip.py``): entropy-coded data and tables are copied as they are.

Pure: bytes and metadata in, a DICOM Part 10 file out; no I/O. The JPEG is never decoded or
re-encoded: its frame header (SOF) gives rows, columns and components, and the transfer syntax
follows the coding process (baseline → JPEG Baseline 1.2.840.10008.1.2.4.50). PNG originals and
JPEG coding processes DICOM has no current transfer syntax for (progressive, lossless, arithmetic)
raise ``NotEncapsulable``: converting them would alter the evidence, so the outbox records them
as skipped instead.
"""
from __future__ import annotations

import dataclasses
import io
import re
from datetime import datetime
from typing import Any, Mapping

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID, JPEGBaseline8Bit, JPEGExtended12Bit, PYDICOM_IMPLEMENTATION_UID

from ..strip import NotAJpeg, strip_jpeg_metadata
from . import codes
from .patients import real_date
from .uids import instance_uid, series_uid, study_uid

VL_PHOTOGRAPHIC_IMAGE = "1.2.840.10008.5.1.4.1.1.77.1.4"
_LATERALITY = {"left": "L", "right": "R", "bilateral": "B", "not_applicable": "U"}


class NotEncapsulable(ValueError):
    """The original cannot be carried bit-exact in a DICOM transfer syntax."""


@dataclasses.dataclass(frozen=True)
class JpegFrame:
    process: int  # SOF marker low nibble: 0 baseline, 1 extended, 2 progressive, 3 lossless...
    precision: int
    rows: int
    columns: int
    components: int
    subsampled: bool


def jpeg_frame(data: bytes) -> JpegFrame:
    if data[:2] != b"\xff\xd8":
        raise NotEncapsulable("not a JPEG")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise NotEncapsulable("JPEG marker stream is damaged")
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            seg = data[i + 4:i + 2 + length]
            components = seg[5]
            factors = {seg[7 + 3 * c] for c in range(components)}
            return JpegFrame(marker - 0xC0, seg[0], int.from_bytes(seg[1:3], "big"),
                             int.from_bytes(seg[3:5], "big"), components, len(factors) > 1)
        i += 2 + length
    raise NotEncapsulable("JPEG has no frame header")


def _code_item(code: codes.Code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme
    item.CodeMeaning = code.meaning[:64]
    return item


def _view_context(view: codes.Code) -> Dataset:
    item = Dataset()
    item.ValueType = "CODE"
    item.ConceptNameCodeSequence = [_code_item(IMAGE_VIEW)]
    item.ConceptCodeSequence = [_code_item(view)]
    return item


def _da(value: str | None) -> str:
    """A DICOM date of a full ISO date the index holds; '' for a partial or an invalid one (Type 2)."""
    if not value or not real_date(value) or len(value) != 10:
        return ""
    return value.replace("-", "")


def _dt(value: str) -> tuple[str, str, str]:
    """(DA, TM, DT) of an RFC 3339 timestamp, in UTC as the device recorded it."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S"), moment.strftime("%Y%m%d%H%M%S%z")


PN_GROUP_MAX = 64  # one PN component group, delimiters included (PS3.5 table 6.2-1)
# Image View (DCM 111031), the concept the Acquisition Context of a VL photograph states the view under
IMAGE_VIEW = codes.Code("111031", "Image View", "DCM")


def _pn_component(value: str | None) -> str:
    """One PN component: DICOM's delimiters (^ = \\) and control characters become spaces."""
    return " ".join(re.sub(r"[\^=\\\x00-\x1f\x7f]", " ", value or "").split())


def person_name(family: str | None, given: str | None) -> str:
    """``family^given`` (alphabetic group) within 64 characters. A name without structure (the surgeon
    written free on the form) is given whole as the family component, never in the retired form."""
    family, given = _pn_component(family), _fit(_pn_component(given), PN_GROUP_MAX // 2)
    if not family and not given:
        return ""
    return f"{_fit(family, PN_GROUP_MAX - 1 - len(given.encode()))}^{given}"


def _fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes at a character boundary: 64 characters is the standard's limit,
    64 bytes the one validators check, and staying under both is valid for either reading."""
    while len(text.encode()) > limit:
        text = text[:-1]
    return text.rstrip()


def build(jpeg: bytes, *, photo: Mapping[str, Any], form: Mapping[str, Any], patient: Mapping[str, Any],
          instance_number: int, issuer: str) -> bytes:
    """The DICOM Part 10 file for one photo (``photo``: photo row; ``patient``: patient index row)."""
    if photo["mime"] != "image/jpeg":
        raise NotEncapsulable(f"{photo['mime']} has no DICOM transfer syntax that keeps the original bytes")
    try:
        jpeg = strip_jpeg_metadata(jpeg)  # no EXIF, XMP, IPTC, maker notes or comments leave: pixels untouched
    except NotAJpeg as exc:
        raise NotEncapsulable(f"JPEG marker stream: {exc}") from None
    frame = jpeg_frame(jpeg)
    if frame.process == 0 and frame.precision == 8:
        syntax = JPEGBaseline8Bit
    elif frame.process == 1:
        syntax = JPEGExtended12Bit
    else:
        raise NotEncapsulable(f"JPEG coding process SOF{frame.process} has no current DICOM transfer syntax")
    if frame.components not in (1, 3):
        raise NotEncapsulable("JPEG with neither 1 nor 3 components")

    sop_uid = instance_uid(photo["id"])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(VL_PHOTOGRAPHIC_IMAGE)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = UID(syntax)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "CLINPHOTO_1"

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    # SOP common
    ds.SOPClassUID = VL_PHOTOGRAPHIC_IMAGE
    ds.SOPInstanceUID = sop_uid
    # Patient (from the hospital index, never from the device)
    ds.PatientName = person_name(patient.get("family"), patient.get("given"))
    ds.PatientID = patient["id"]
    ds.IssuerOfPatientID = issuer[:64]
    ds.PatientBirthDate = _da(patient.get("birth_date"))
    ds.PatientSex = {"M": "M", "F": "F", "O": "O", "A": "O"}.get((patient.get("sex") or "").upper(), "")
    ds.PatientIdentityRemoved = "NO"
    # Study: one per sequence
    ds.StudyInstanceUID = study_uid(form["sequence_id"])
    ds.StudyDate = _da(form.get("performed_on")) or _dt(photo["captured_at"])[0]
    ds.StudyTime = ""
    ds.StudyID = form["sequence_id"][:16]
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = codes.procedure_label(form.get("procedure"))[:64]
    # Series and equipment
    ds.Modality = "XC"
    ds.SeriesInstanceUID = series_uid(form["sequence_id"])
    ds.SeriesNumber = 1
    ds.SeriesDescription = f"{form.get('timing', {}).get('phase', '')}".replace("_", "-")[:64]
    ds.Manufacturer = "ClinPhoto"
    if form.get("surgeon"):
        ds.OperatorsName = person_name(form["surgeon"], None)
        ds.PerformingPhysicianName = ds.OperatorsName
    # General image, acquisition
    ds.InstanceNumber = instance_number
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ContentDate, ds.ContentTime, ds.AcquisitionDateTime = _dt(photo["captured_at"])
    ds.AcquisitionDate, ds.AcquisitionTime = ds.ContentDate, ds.ContentTime
    ds.PatientOrientation = ""
    ds.BurnedInAnnotation = "NO"
    ds.RecognizableVisualFeatures = "YES" if form.get("anatomical_region") in codes.FACE_REGIONS else "NO"
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.ImageLaterality = _LATERALITY.get(form.get("laterality", ""), "U")
    region = codes.region(form.get("anatomical_region"))
    if region is not None:
        ds.AnatomicRegionSequence = [_code_item(region)]
    view_code, view_label = codes.view(photo["view"])
    ds.ImageComments = view_label[:10240]
    # Acquisition Context (Type 2 in this IOD) carries the view: View Code Sequence is not an attribute of
    # the VL Photographic Image IOD in the editions validators check, so it would make the SOP Class extended
    ds.AcquisitionContextSequence = [_view_context(view_code)] if view_code is not None else []
    # Image pixel: described from the JPEG frame header, pixels left as the camera coded them
    ds.Rows, ds.Columns = frame.rows, frame.columns
    ds.SamplesPerPixel = frame.components
    if frame.components == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422" if frame.subsampled else "YBR_FULL"
        ds.PlanarConfiguration = 0
    else:
        ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8 if frame.precision <= 8 else 16
    ds.BitsStored = frame.precision
    ds.HighBit = frame.precision - 1
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([jpeg])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True

    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
