"""``clinphoto backup`` and ``clinphoto restore``: a consistent copy taken while the server runs.

A backup folder holds the database (``clinphoto.db`` made with SQLite's online backup API, or
``database.pgdump`` from ``pg_dump`` for PostgreSQL), ``objects/`` (the photos, already encrypted at
rest, copied byte for byte), ``data/`` (the other small files of the data folder: the audit log's
name, the ward CA's certificate), and ``manifest.json`` with counts and the SHA-256 of every file.
The key material goes to ``keys/`` inside the backup (0700/0600) or to ``--keys-out``: the keys are
what makes the objects readable, so they must be stored apart from the rest.

The database is copied first, then the objects: every object the copied database names was filed
(fsynced and renamed into place) before the row naming it was committed, so it is in the copy;
objects filed after the snapshot are copied too and are merely unnamed.

Restore goes into an empty data folder only, checks every file against the manifest first, then
verifies the restored install: every photo decrypts to the SHA-256 recorded when it was received,
every rendition decrypts, and the audit chain is unbroken.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

from crypto import CryptoError, KeyStore

from .db import Db, with_database
from .storage.fields import PatientFields
from .settings import Settings
from .storage.files import fsync_dir

MANIFEST = "manifest.json"
FORMAT = "clinphoto-backup/1"
_SKIP_DATA = {"objects", "uploads", "keys"}  # uploads in progress are resumed by the devices, not backed up
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what to do."""


def _sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def _is_db_file(name: str, db_name: str) -> bool:
    return name == db_name or name.startswith(db_name + "-")  # -wal, -shm, -journal


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(src: Path, dst: Path, mode: int = 0o600) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` durably; returns the SHA-256 and size of what was written."""
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    with open(src, "rb") as reader, open(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    os.chmod(dst, mode)
    return digest.hexdigest(), size


def _hash(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as reader:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _files(root: Path, skip: Callable[[Path], bool] = lambda p: False) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not skip(Path(folder, d)))
        for name in sorted(names):
            path = Path(folder, name)
            if not name.startswith(".") and not skip(path) and path.is_file():
                yield path


def _fsync_tree(root: Path) -> None:
    for folder, _, _ in os.walk(root):
        fsync_dir(Path(folder))


def _empty_folder(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} is not empty: {what} must be a new or empty folder")


@dataclasses.dataclass
class _Manifest:
    files: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    keys: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def add(self, table: dict[str, dict[str, Any]], name: str, sha: str, size: int) -> None:
        table[name] = {"sha256": sha, "size": size}


async def _counts(store: Any) -> dict[str, int]:  # a Db, or one transaction's reads
    async def count(sql: str) -> int:
        return int(await store.fetch_val(sql) or 0)

    return {
        "photos": await count("SELECT COUNT(*) FROM photo WHERE storage_key IS NOT NULL"),
        "renditions": await count("SELECT COUNT(*) FROM rendition"),
        "batches": await count("SELECT COUNT(*) FROM batch"),
        "devices": await count("SELECT COUNT(*) FROM device"),
        "audit_entries": await count("SELECT COUNT(*) FROM audit_entry"),
    }


def _pg_env(url: str) -> tuple[list[str], dict[str, str]]:
    """``pg_dump``/``pg_restore`` take the URL as ``--dbname``; the password stays out of argv."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))
    env = dict(os.environ)
    netloc = parts.netloc
    if parts.password is not None:
        env["PGPASSWORD"] = parts.password
        netloc = netloc.replace(f":{parts.password}@", "@", 1)
    return [f"--dbname={urlunsplit(parts._replace(netloc=netloc))}"], env


async def _pg_dump(url: str, target: Path) -> dict[str, int]:
    """``pg_dump`` of one exported snapshot, counted in that same snapshot: the counts are the dump's."""
    import asyncpg

    args, env = _pg_env(url)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")

            class _Store:  # the few reads _counts makes, in this transaction
                async def fetch_val(self, sql: str) -> Any:
                    return await connection.fetchval(sql)

            counts = await _counts(_Store())
            done = await asyncio.to_thread(subprocess.run, [
                "pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", f"--file={target}", *args],
                env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    finally:
        await connection.close()
    return counts


def backup(settings: Settings, out: Path, keys_out: Path | None = None) -> dict[str, Any]:
    """Write a backup of the running install to ``out``; returns the manifest written."""
    keys_dir = keys_out or out / "keys"
    _empty_folder(out, "the backup folder")
    if keys_out is not None:
        _empty_folder(keys_out, "the keys folder")
    if not settings.data_dir.is_dir():
        raise BackupError(f"{settings.data_dir} holds no ClinPhoto data: nothing to back up")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    out.chmod(0o700)
    manifest = _Manifest()
    url = settings.resolved_database_url
    db_name = ""
    if url.startswith("sqlite"):
        source = _sqlite_path(url)
        db_name = source.name
        if not source.is_file():
            raise BackupError(f"no database at {source}: nothing to back up")
        target = out / "clinphoto.db"
        src = sqlite3.connect(os.fspath(source), timeout=30)
        dst = sqlite3.connect(os.fspath(target))
        try:
            src.backup(dst)  # the online backup API: a consistent snapshot while the server writes
        finally:
            dst.close()
            src.close()
        target.chmod(0o600)
        _fsync_file(target)
        manifest.add(manifest.files, "clinphoto.db", *_hash(target))
        database = "sqlite"
        counts = asyncio.run(with_database(f"sqlite:///{target}", _counts))
    else:
        target = out / "database.pgdump"
        counts = asyncio.run(_pg_dump(url, target))
        target.chmod(0o600)
        _fsync_file(target)
        manifest.add(manifest.files, "database.pgdump", *_hash(target))
        database = "postgresql"
    objects = 0
    if settings.objects_dir.is_dir():
        for path in _files(settings.objects_dir):
            rel = path.relative_to(settings.objects_dir).as_posix()
            try:
                sha, size = _copy(path, out / "objects" / rel)
            except FileNotFoundError:
                continue  # a temp file renamed meanwhile
            manifest.add(manifest.files, f"objects/{rel}", sha, size)
            objects += 1
    skip_data = {settings.data_dir / n for n in _SKIP_DATA} | {settings.resolved_keys_dir}
    for path in _files(settings.data_dir, lambda p: p in skip_data or (
            p.parent == settings.data_dir and bool(db_name) and _is_db_file(p.name, db_name))):
        rel = path.relative_to(settings.data_dir).as_posix()
        manifest.add(manifest.files, f"data/{rel}", *_copy(path, out / "data" / rel, path.stat().st_mode & 0o644))
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys_dir.chmod(0o700)
    for path in _files(settings.resolved_keys_dir):
        rel = path.relative_to(settings.resolved_keys_dir).as_posix()
        manifest.add(manifest.keys, rel, *_copy(path, keys_dir / rel, 0o600))
    _fsync_tree(keys_dir)
    document = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "database": database,
        "counts": {**counts, "objects": objects, "files": len(manifest.files), "key_files": len(manifest.keys)},
        "keys_apart": keys_out is not None,
        "files": manifest.files,
        "keys": manifest.keys,
    }
    path = out / MANIFEST
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="utf-8") as writer:
        json.dump(document, writer, indent=2, sort_keys=True)
        writer.flush()
        os.fsync(writer.fileno())
    _fsync_tree(out)
    return document


def _check(root: Path, table: dict[str, dict[str, Any]], what: str) -> None:
    for name, entry in table.items():
        path = root / name
        if not path.is_file():
            raise BackupError(f"{what} {name} is missing from {root}: the backup is incomplete")
        if _hash(path) != (entry["sha256"], entry["size"]):
            raise BackupError(f"{what} {name} does not match its SHA-256 in the manifest: the backup is damaged")


@dataclasses.dataclass
class Verification:
    photos: int = 0
    renditions: int = 0
    audit_entries: int = 0
    bad: list[str] = dataclasses.field(default_factory=list)
    audit_problem: str | None = None

    @property
    def ok(self) -> bool:
        return not self.bad and self.audit_problem is None


async def verify_install(settings: Settings, store: Db) -> Verification:
    """Every stored photo decrypts to its recorded SHA-256, every rendition decrypts, the chain holds."""
    from .audit.log import verify_chain
    from .storage.objects import ObjectStore

    keys = KeyStore.open(settings.resolved_keys_dir)
    objects = ObjectStore(settings.objects_dir)
    result = Verification()
    for row in await store.fetch_all(
            "SELECT id, sha256, storage_key FROM photo WHERE storage_key IS NOT NULL ORDER BY id"):
        try:
            data = await asyncio.to_thread(objects.get, row["storage_key"], keys.keks)
        except (OSError, CryptoError, ValueError) as exc:
            result.bad.append(f"photo {row['id']}: its object does not open ({type(exc).__name__})")
            continue
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            result.bad.append(f"photo {row['id']}: its content does not match the SHA-256 recorded at receipt")
            continue
        result.photos += 1
    for row in await store.fetch_all("SELECT photo_id, kind, storage_key FROM rendition ORDER BY photo_id, kind"):
        try:
            await asyncio.to_thread(objects.get, row["storage_key"], keys.keks)
        except (OSError, CryptoError, ValueError) as exc:
            result.bad.append(f"{row['kind']} of photo {row['photo_id']}: does not open ({type(exc).__name__})")
            continue
        result.renditions += 1
    chain = await verify_chain(store)
    result.audit_entries = chain.entries
    if not chain.ok:
        result.audit_problem = f"broken at entry {chain.first_bad_seq}: {chain.problem}"
    return result


def restore(settings: Settings, source: Path, keys_from: Path | None = None) -> Verification:
    """Restore ``source`` into the (empty) data folder of ``settings`` and verify the result."""
    try:
        document = json.loads((source / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        raise BackupError(f"{source} holds no readable {MANIFEST}: not a ClinPhoto backup") from None
    if document.get("format") != FORMAT:
        raise BackupError(f"{source} is not a {FORMAT} backup")
    keys_source = keys_from or source / "keys"
    if document["keys"] and not keys_source.is_dir():
        raise BackupError(f"the keys are not in {keys_source}: give the folder they were stored in with --keys-from")
    _empty_folder(settings.data_dir, "the data folder to restore into")
    if settings.keys_dir is not None:
        _empty_folder(settings.keys_dir, "the keys folder to restore into")
    url = settings.resolved_database_url
    if document["database"] == "sqlite" and not url.startswith("sqlite"):
        raise BackupError("this backup holds a SQLite database: restore it with CLINPHOTO_DATABASE_URL unset "
                          "or sqlite:///...")
    if document["database"] == "postgresql" and url.startswith("sqlite"):
        raise BackupError("this backup holds a PostgreSQL dump: set CLINPHOTO_DATABASE_URL to an empty "
                          "PostgreSQL database to restore it")
    _check(source, document["files"], "file")
    _check(keys_source, document["keys"], "key file")
    if document["database"] == "postgresql":
        args, env = _pg_env(url)
        done = subprocess.run(["psql", "--no-psqlrc", "-tAc", "SELECT COUNT(*) FROM information_schema.tables "
                               "WHERE table_schema = 'public'", *args], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"cannot reach the PostgreSQL database to restore into: {done.stderr.strip()}")
        if done.stdout.strip() != "0":
            raise BackupError("the PostgreSQL database to restore into is not empty: create a new one (createdb) "
                              "and point CLINPHOTO_DATABASE_URL at it")
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.data_dir.chmod(0o700)
    for name in document["files"]:
        if name.startswith("objects/"):
            _copy(source / name, settings.objects_dir / name[len("objects/"):])
        elif name.startswith("data/"):
            _copy(source / name, settings.data_dir / name[len("data/"):],
                  (source / name).stat().st_mode & 0o644)
    keys_target = settings.resolved_keys_dir
    keys_target.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys_target.chmod(0o700)
    for name in document["keys"]:
        _copy(keys_source / name, keys_target / name, 0o600)
    if document["database"] == "sqlite":
        _copy(source / "clinphoto.db", _sqlite_path(url))
    else:
        args, env = _pg_env(url)
        done = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction", *args,
                               os.fspath(source / "database.pgdump")], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed (the database must be empty): {done.stderr.strip()}")
    _fsync_tree(settings.data_dir)
    if settings.keys_dir is not None:
        _fsync_tree(keys_target)
    fields = PatientFields(KeyStore.open(settings.resolved_keys_dir))  # the restored keys open the restored rows
    return asyncio.run(with_database(url, lambda store: verify_install(settings, store), fields))
