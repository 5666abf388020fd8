"""A test filesystem that forgets like a power cut, in the manner of LazyFS.

A FUSE passthrough (mfusepy over libfuse3) mounts a backing folder. Every write reaches the backing
folder at once (that is the page cache: what a SIGKILL of the server keeps); beside it the filesystem
keeps what a disk would have kept through a power cut:

- a file's content as of its last ``fsync``/``fdatasync`` (copied into a shadow folder),
- a directory's entries (creates, renames, unlinks) as of its last directory ``fsync``.

``cut()`` rebuilds the backing folder from that durable state alone and remounts: unsynced data and
unsynced directory entries are gone. ``fail(op, errno)`` answers chosen operations (``write``,
``fsync``, ``create``...) on paths containing a substring with ENOSPC or EIO until ``heal()``.

The server runs in a child process (``python -m tests.powerloss.lazyfs BACKING MOUNT``) driven by one
JSON line per command on its stdin; ``LazyFS`` is the test's handle on it.
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


class LazyFS:
    """Mounts ``backing`` at ``mountpoint`` in a child process; ``cut()``, ``fail()``, ``heal()``."""

    def __init__(self, backing: Path, mountpoint: Path) -> None:
        self.backing = backing
        self.mountpoint = mountpoint
        self.shadow = backing.with_name(backing.name + ".durable")
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> LazyFS:
        self.mount()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unmount()

    def mount(self) -> None:
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.powerloss.lazyfs", str(self.backing), str(self.mountpoint), str(self.shadow)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self._reply()["ready"]
        deadline = time.monotonic() + 10
        while not os.path.ismount(self.mountpoint):
            if time.monotonic() > deadline:
                raise RuntimeError("lazyfs did not mount")
            time.sleep(0.01)

    def unmount(self) -> None:
        if self.process is None:
            return
        subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], check=False, capture_output=True)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _call(self, **command: Any) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._reply()

    def _reply(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"lazyfs exited with {self.process.wait()}")
        return dict(json.loads(line))

    def cut(self) -> dict[str, Any]:
        """Power cut: forget everything not made durable, then remount (the kernel's caches go too).
        Whoever had files open must already be dead, as after a real cut."""
        dropped = self._call(op="cut")
        self.unmount()
        self.mount()
        return dropped

    def fail(self, op: str, code: int, path_contains: str = "") -> None:
        self._call(op="fail", fail=op, errno=code, path=path_contains)

    def heal(self) -> None:
        self._call(op="heal")

    def stats(self) -> dict[str, Any]:
        return self._call(op="stats")


# --- the filesystem (runs in the child process) -------------------------------------------------


def _serve(backing: Path, mountpoint: Path, shadow: Path) -> None:
    import mfusepy as fuse

    class Passthrough(fuse.Operations):
        use_ns = True

        def __init__(self) -> None:
            self.mutex = threading.RLock()
            self.ids = itertools.count(1)
            self.ident: dict[int, int] = {}  # backing inode -> identity (inodes are reused, identities not)
            self.entries: dict[int, dict[str, tuple[int, int]]] = {}  # durable: dir id -> name -> (id, mode)
            self.synced: set[int] = set()  # file ids with a durable copy in the shadow folder
            self.failing: list[tuple[str, int, str]] = []
            self.counts = {"fsync": 0, "fsyncdir": 0}
            self.root = self._snapshot_all()

        # -- durable state --
        def _id(self, ino: int) -> int:
            if ino not in self.ident:
                self.ident[ino] = next(self.ids)
            return self.ident[ino]

        def _snapshot_all(self) -> int:
            """At mount everything is durable (the previous cut already dropped the rest)."""
            shutil.rmtree(shadow, ignore_errors=True)
            shadow.mkdir(parents=True)
            for directory, _dirs, files in os.walk(backing):
                self._record_dir(Path(directory))
                for name in files:
                    self._record_file(Path(directory) / name)
            return self._id(os.stat(backing).st_ino)

        def _record_file(self, path: Path) -> None:
            file_id = self._id(os.stat(path).st_ino)
            shutil.copyfile(path, shadow / str(file_id))
            self.synced.add(file_id)

        def _record_dir(self, path: Path) -> None:
            listing = {}
            with os.scandir(path) as it:
                for entry in it:
                    st = entry.stat(follow_symlinks=False)
                    listing[entry.name] = (self._id(st.st_ino), st.st_mode)
            self.entries[self._id(os.stat(path).st_ino)] = listing

        def cut(self) -> dict[str, Any]:
            with self.mutex:
                before = sum(1 for _ in backing.rglob("*"))
                fresh = backing.with_name(backing.name + ".cut")
                shutil.rmtree(fresh, ignore_errors=True)
                self._rebuild(self.root, fresh, 0o700)
                old = backing.with_name(backing.name + ".old")
                os.rename(backing, old)
                os.rename(fresh, backing)
                shutil.rmtree(old)
                after = sum(1 for _ in backing.rglob("*"))
                return {"entries_before": before, "entries_after": after}

        def _rebuild(self, dir_id: int, target: Path, mode: int) -> None:
            target.mkdir()
            os.chmod(target, stat.S_IMODE(mode))
            for name, (child, child_mode) in self.entries.get(dir_id, {}).items():
                if stat.S_ISDIR(child_mode):
                    self._rebuild(child, target / name, child_mode)
                elif stat.S_ISREG(child_mode):
                    if child in self.synced:
                        shutil.copyfile(shadow / str(child), target / name)
                    else:
                        (target / name).touch()  # the name was durable, its data never was
                    os.chmod(target / name, stat.S_IMODE(child_mode))

        # -- fault injection --
        def _maybe_fail(self, op: str, path: str) -> None:
            for failing_op, code, contains in self.failing:
                if failing_op == op and contains in path:
                    raise fuse.FuseOSError(code)

        def _full(self, path: str) -> str:
            return str(backing) + path

        # -- operations --
        def access(self, path: str, amode: int) -> int:
            if not os.access(self._full(path), amode):
                raise fuse.FuseOSError(errno.EACCES)
            return 0

        def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
            try:
                st = os.fstat(fh) if fh is not None else os.lstat(self._full(path))
            except OSError as exc:
                raise fuse.FuseOSError(exc.errno) from None
            keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime_ns", "st_mtime_ns", "st_ctime_ns")
            attrs = {k.replace("_ns", ""): getattr(st, k) for k in keys}
            return attrs

        def readdir(self, path: str, fh: int) -> list[str]:
            return [".", "..", *os.listdir(self._full(path))]

        def opendir(self, path: str) -> int:
            return 0

        def releasedir(self, path: str, fh: int) -> int:
            return 0

        def chmod(self, path: str, mode: int) -> int:
            os.chmod(self._full(path), mode)
            return 0

        def chown(self, path: str, uid: int, gid: int) -> int:
            os.chown(self._full(path), uid, gid)
            return 0

        def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
            os.utime(self._full(path), ns=times) if times else os.utime(self._full(path))
            return 0

        def statfs(self, path: str) -> dict[str, int]:
            sv = os.statvfs(self._full(path))
            return {k: getattr(sv, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                                "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

        def mkdir(self, path: str, mode: int) -> int:
            with self.mutex:
                self._maybe_fail("mkdir", path)
                os.mkdir(self._full(path), mode)
                self.ident.pop(os.stat(self._full(path)).st_ino, None)
                self._id(os.stat(self._full(path)).st_ino)
            return 0

        def rmdir(self, path: str) -> int:
            with self.mutex:
                ino = os.stat(self._full(path)).st_ino
                os.rmdir(self._full(path))
                self.ident.pop(ino, None)
            return 0

        def unlink(self, path: str) -> int:
            with self.mutex:
                st = os.stat(self._full(path))
                os.unlink(self._full(path))
                if st.st_nlink <= 1:
                    self.ident.pop(st.st_ino, None)  # a later file reusing the inode is another file
            return 0

        def rename(self, old: str, new: str) -> int:
            with self.mutex:
                self._maybe_fail("rename", new)
                target = self._full(new)
                replaced = os.stat(target).st_ino if os.path.lexists(target) else None
                os.rename(self._full(old), target)
                if replaced is not None and replaced != os.stat(target).st_ino:
                    self.ident.pop(replaced, None)
            return 0

        def link(self, target: str, source: str) -> int:
            os.link(self._full(source), self._full(target))
            return 0

        def symlink(self, target: str, source: str) -> int:
            os.symlink(source, self._full(target))
            return 0

        def readlink(self, path: str) -> str:
            return os.readlink(self._full(path))

        def open(self, path: str, flags: int) -> int:
            return os.open(self._full(path), flags)

        def create(self, path: str, mode: int, fi: Any = None) -> int:
            with self.mutex:
                self._maybe_fail("create", path)
                fd = os.open(self._full(path), os.O_RDWR | os.O_CREAT, mode)  # readable: SQLite reads what it created
                self.ident.pop(os.fstat(fd).st_ino, None)
                self._id(os.fstat(fd).st_ino)
            return fd

        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            return os.pread(fh, size, offset)

        def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
            self._maybe_fail("write", path)
            return os.pwrite(fh, data, offset)

        def truncate(self, path: str, length: int, fh: int | None = None) -> int:
            self._maybe_fail("write", path)
            if fh is None:
                os.truncate(self._full(path), length)
            else:
                os.ftruncate(fh, length)
            return 0

        def fallocate(self, path: str, mode: int, offset: int, size: int, fh: int) -> int:
            self._maybe_fail("write", path)
            os.posix_fallocate(fh, offset, size)
            return 0

        def flush(self, path: str, fh: int) -> int:
            return 0

        def release(self, path: str, fh: int) -> int:
            os.close(fh)
            return 0

        def fsync(self, path: str, datasync: int, fh: int) -> int:
            self._maybe_fail("fsync", path)
            with self.mutex:
                self.counts["fsync"] += 1
                file_id = self._id(os.fstat(fh).st_ino)
                tmp = shadow / f"{file_id}.part"
                # the handle may be write-only: read the same open file through /proc
                reader = os.open(f"/proc/self/fd/{fh}", os.O_RDONLY)
                try:
                    with open(tmp, "wb") as out:
                        while chunk := os.read(reader, 1 << 20):
                            out.write(chunk)
                finally:
                    os.close(reader)
                os.replace(tmp, shadow / str(file_id))
                self.synced.add(file_id)
            return 0

        def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
            self._maybe_fail("fsync", path)
            with self.mutex:
                self.counts["fsyncdir"] += 1
                self._record_dir(Path(self._full(path)))
            return 0

    ops = Passthrough()

    def control() -> None:
        for line in sys.stdin:
            command = json.loads(line)
            with ops.mutex:
                if command["op"] == "cut":
                    reply: dict[str, Any] = ops.cut()
                elif command["op"] == "fail":
                    ops.failing.append((command["fail"], int(command["errno"]), command["path"]))
                    reply = {}
                elif command["op"] == "heal":
                    ops.failing.clear()
                    reply = {}
                else:
                    reply = dict(ops.counts)
            print(json.dumps({"ok": True, **reply}), flush=True)

    threading.Thread(target=control, daemon=True).start()
    print(json.dumps({"ready": True}), flush=True)
    # attr/entry caching off: after a cut and remount nothing stale is served, and names seen by one
    # process are the ones on the backing folder
    fuse.FUSE(ops, str(mountpoint), foreground=True, nothreads=False, allow_other=False,
              attr_timeout=0, entry_timeout=0, negative_timeout=0)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
