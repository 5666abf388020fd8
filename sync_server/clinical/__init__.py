"""Clinicians' workspace (issue 10): patients, timelines, consent, exports and activity figures.

``catalog`` reads the shared schemas (views, protocols, labels) and holds the consent rules (pure);
``queries`` reads and changes the database; ``export`` writes consent-aware ZIPs; ``stats`` counts.
The HTTP side is ``endpoints/clinical.py``.
"""
