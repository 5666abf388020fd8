"""dciodvfy (Debian dicom3tools), the DICOM validator the tests hold every instance to."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def dciodvfy(instance: bytes) -> list[str]:
    """The Error and Warning lines dciodvfy reports on one DICOM Part 10 file."""
    binary = shutil.which("dciodvfy")
    assert binary, "dciodvfy is needed (Debian: dicom3tools; .ci/run installs it)"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "instance.dcm"
        path.write_bytes(instance)
        run = subprocess.run([binary, str(path)], capture_output=True, text=True, errors="replace", timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith(("Error", "Warning"))]


def errors(instance: bytes) -> list[str]:
    return [line for line in dciodvfy(instance) if line.startswith("Error")]
