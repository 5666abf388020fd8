"""Only the server's own account reads its files: the data folder, database, uploads, objects and keys.

Data is made private at every start (folders 0700, files 0600), whatever an earlier version, a restore
or an administrator's umask left. Keys are not silently repaired: a key that was readable by others
may have been copied, so the server refuses to start, names each file and says how to fix it (and the
administrator decides whether to rotate).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
_OTHERS = 0o077  # any right for group or others
_PUBLIC_SUFFIXES = (".crt", ".pub")  # certificates and public keys may be read by anyone


class UnsafeKeyPermissions(Exception):
    """Key files or their folder are open to group or others; ``fixes`` are the shell commands to run."""

    def __init__(self, problems: list[tuple[Path, int, str]]) -> None:
        self.problems = problems
        self.fixes = [fix for _, _, fix in problems]
        lines = [f"{path} is open to group or others (mode {oct(mode)[2:].zfill(4)}): run  {fix}"
                 for path, mode, fix in problems]
        super().__init__("refusing to start: the server's private keys must be readable by its account only.\n"
                         + "\n".join(lines) + "\nIf others may have copied them, rotate the keys (clinphoto keys rotate).")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_keys_private(keys_dir: Path) -> None:
    """Raise ``UnsafeKeyPermissions`` if the key folder or a private file in it is open to others."""
    if not keys_dir.exists():
        return  # created 0700 with its first keys
    problems: list[tuple[Path, int, str]] = []
    if _mode(keys_dir) & _OTHERS:
        problems.append((keys_dir, _mode(keys_dir), f"chmod 700 {keys_dir}"))
    for path in sorted(keys_dir.iterdir()):
        if path.is_file() and not path.name.endswith(_PUBLIC_SUFFIXES) and _mode(path) & _OTHERS:
            problems.append((path, _mode(path), f"chmod 600 {path}"))
    if problems:
        raise UnsafeKeyPermissions(problems)


def _tighten(path: Path, wanted: int) -> None:
    try:
        if _mode(path) != wanted:
            path.chmod(wanted)
    except FileNotFoundError:
        pass  # removed meanwhile (a temp file): nothing to protect


def make_private(folders: Iterable[Path], files: Iterable[Path] = ()) -> None:
    """Folders (and everything under them) to 0700/0600; loose files to 0600. Absent paths are skipped."""
    for folder in folders:
        if not folder.is_dir():
            continue
        _tighten(folder, PRIVATE_DIR)
        for root, dirs, names in os.walk(folder):
            for name in dirs:
                _tighten(Path(root, name), PRIVATE_DIR)
            for name in names:
                _tighten(Path(root, name), PRIVATE_FILE)
    for path in files:
        if path.exists():
            _tighten(path, PRIVATE_FILE)
