"""Keys shared by the seal tests (a module may define its own ``key``, as the signing tests do)."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import key_id


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 hospital sealing key."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def keys(key: ec.EllipticCurvePrivateKey) -> dict[str, ec.EllipticCurvePrivateKey]:
    """The sealing keys the opener holds, by key id."""
    return {key_id(key.public_key()): key}
