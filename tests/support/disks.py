"""Real small disks for the store's tests: a tmpfs of a few megabytes that can be filled to its
last byte, or remounted read-only under a running app, and a file bind-mounted read-only.

Mounting needs the right to (root with CAP_SYS_ADMIN, as in the test container); where it is not
given, the tests that need it are skipped with the reason. Root ignores file permissions, so
chmod cannot make a database read-only for these tests; a read-only mount can.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

import pytest


def _mount(*args):
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode:
        raise OSError(done.stderr.strip() or f"mount {' '.join(args)} failed")


class SmallDisk:
    """A tmpfs mounted at `path`, `size_kb` large."""

    def __init__(self, path, size_kb):
        self.path = str(path)
        self.size_kb = size_kb

    def file(self, name):
        return os.path.join(self.path, name)

    def read_only(self):
        _mount("-o", "remount,ro", self.path)

    def writable(self):
        _mount("-o", "remount,rw", self.path)

    def fill(self):
        """Take every free byte (into a file named filler); free() gives them back."""
        filler = os.open(self.file("filler"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (65536, 4096, 1):
                with contextlib.suppress(OSError):  # ENOSPC: on to smaller writes
                    while os.write(filler, b"\0" * size):
                        pass
        finally:
            os.close(filler)
        assert os.statvfs(self.path).f_bavail == 0

    def free(self):
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.file("filler"))


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs in tmp_path (unmounted at the end, whatever the test left)."""
    path = tmp_path / "disk"
    path.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path))
    except OSError as exc:
        pytest.skip(f"a tmpfs cannot be mounted here ({exc}); these tests need a real small disk")
    disk = SmallDisk(path, 4096)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def read_only_file(path):
    """`path` bind-mounted read-only onto itself: the file cannot be written, its folder can."""
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
