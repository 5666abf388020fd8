"""Into the patient record and the PACS (issue 6).

``patients`` (the hospital patient index, reconciliation, quarantine), ``hl7v2`` (ADT over MLLP),
``dicom`` (VL Photographic Image built around the original JPEG bytes), ``stow`` (DICOMweb
client), ``outbox`` (durable, retried, exactly-once delivery), ``fhir`` (R4 Media/Patient).
``service`` wires them to the server's events and extensions.
"""
