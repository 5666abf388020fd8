"""The server and the shared formats pass ruff with the rules in pyproject.toml ([tool.ruff.lint]); the
formats (``crypto/``) and the protocol layer pass mypy --strict ([tool.mypy])."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return [found]


def _ruff() -> list[str]:
    return _tool("ruff")


def test_mypy_strict_passes_on_the_formats_and_the_protocol_layer():
    result = subprocess.run([*_tool("mypy"), "--no-incremental", "--cache-dir=/dev/null"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in" in result.stdout


def test_mypy_would_fail_on_an_untyped_function(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x):\n    return x + 1\n")
    result = subprocess.run([*_tool("mypy"), "--strict", "--no-incremental", "--cache-dir=/dev/null", str(bad)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "no-untyped-def" in result.stdout


def test_ruff_passes_on_the_server_and_the_formats():
    result = subprocess.run([*_ruff(), "check", "--no-cache", "sync_server", "crypto"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
