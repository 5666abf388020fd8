"""Into the patient record and the PACS (issue 6).

``patients`` (the hospital patient index, reconciliation, quarantine), ``hl7v2`` (ADT over MLLP),
``dicom`` (VL Photographic Image built around the original JPEG bytes), ``stow`` (DICOMweb
client), ``orthanc`` (removing copies Orthanc keeps under a merged-away identity), ``outbox``
(durable, retried, exactly-once delivery that follows merges), ``fhir`` (R4 Media, R5
DocumentReference, Patient), ``paging`` (FHIR ``_count`` and keyset cursors). ``service`` wires
them to the server's events and extensions.
"""
