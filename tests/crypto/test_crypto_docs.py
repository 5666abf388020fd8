"""Documentation that cannot drift: every error reason and label is in FORMAT.md."""

from pathlib import Path

import pytest

import crypto
from crypto import envelope, form_seal, seal
from crypto.errors import REASONS

FORMAT = (Path(crypto.__file__).parent / "FORMAT.md").read_text()


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_error_reason_is_documented(reason):
    assert f"`{reason}`" in FORMAT


@pytest.mark.parametrize(
    "label", [seal.INFO_LABEL, seal.MAGIC, form_seal.INFO_LABEL, form_seal.MAGIC, envelope.AAD_LABEL, envelope.MAGIC], ids=lambda b: b.decode()
)
def test_every_label_and_magic_is_documented(label):
    assert label.decode() in FORMAT


def test_every_vector_file_is_described():
    vectors = Path(crypto.__file__).parent / "vectors"
    readme = (vectors / "README.md").read_text()
    for path in vectors.glob("*.json"):
        assert f"`{path.name}`" in readme
