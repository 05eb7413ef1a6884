"""Owner-only files and folders (0600/0700), whatever the umask.

Why: the instance folder holds the SQLite database and its -wal/-shm files, generated secrets,
media, uploads, development mails and locks; backups and exports hold the same data. Under the
common umask 022 everything the app created was readable by every local user. Two layers:

* :func:`restrict_umask` (called first thing in ``create_app``) adds 077 to the process umask,
  so even files made by libraries (SQLite, ffmpeg, shutil) are owner-only;
* every file and folder the app itself makes goes through this module with an explicit mode,
  so a server or a library that resets the umask later changes nothing.

SQLite creates its -wal, -shm and -journal files with the mode of the database file (SQLite
``os_unix.c``, ``findCreateFileMode()``: "the permissions on the corresponding database file"),
which is why :func:`prepare_sqlite_file` creates the database file itself, owner-only, before
SQLite opens it. :func:`tighten_tree` repairs modes left by older versions at start.

Part of the kernel: imports nothing from the app.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
#: bits that must never be set on anything the app writes
OTHERS = 0o077
#: suffixes of the files SQLite (and the app's writer lock) keep next to a database
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal", ".writelock")


def restrict_umask() -> int:
    """Add 077 to the process umask (defence in depth); return the previous umask."""
    previous = os.umask(0o077)
    os.umask(previous | 0o077)
    return previous


def _tighten(path: Path) -> bool:
    """Remove group/other bits from ``path`` (never following a symlink); say if it changed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & OTHERS:
        return False
    os.chmod(path, stat.S_IMODE(st.st_mode) & ~OTHERS)
    return True


def private_dir(path: str | os.PathLike[str], *, tighten: bool = True) -> Path:
    """Create ``path`` and any missing parents as 0700 and return it.

    :param tighten: also remove group/other bits from ``path`` when it already exists (the
        app's own folders); False for a folder the user chose, such as a database's parent.
        Existing parents are never changed.
    """
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile
        os.chmod(folder, DIR_MODE)  # mkdir's mode went through the umask
    if tighten and not missing:
        _tighten(path)
    return path


def private_fd(path: str | os.PathLike[str], flags: int) -> int:
    """Open (creating when missing) a file as 0600 and return the descriptor.

    An existing file keeps its content but loses group/other bits.
    """
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & OTHERS:
            os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def create_private(path: str | os.PathLike[str], data: bytes = b"") -> None:
    """Create a new file as 0600 with ``data``; refuse to reuse an existing one.

    :raises FileExistsError: the file exists (its mode and content stay as they are).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fd, FILE_MODE)
        fh.write(data)
        fh.flush()
        os.fsync(fd)


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically as a new 0600 file, replacing any existing one.

    Why a new file: reopening an existing file keeps its old mode (an export written before,
    0644); a fresh temporary file in the same folder, renamed over it, cannot.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        create_private(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def append_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Append ``data`` to ``path``, creating it as 0600 (an existing file is made 0600)."""
    fd = private_fd(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def prepare_sqlite_file(database: str | os.PathLike[str]) -> None:
    """Create a SQLite database file owner-only before SQLite does, and tighten its companions.

    SQLite gives -wal/-shm/-journal the database file's mode (see the module docstring); an
    empty file is a valid empty database.
    """
    path = Path(database)
    private_dir(path.parent, tighten=False)
    try:
        create_private(path)
    except FileExistsError:
        pass
    for suffix in ("", *SQLITE_COMPANIONS):
        _tighten(Path(f"{path}{suffix}"))


def copy_tree_private(source: Path, target: Path) -> None:
    """Copy a folder (media into a backup, or back) so the copy is owner-only throughout."""
    private_dir(target)
    shutil.copytree(source, target, dirs_exist_ok=True)
    tighten_tree(target)


def tighten_tree(root: str | os.PathLike[str]) -> int:
    """Remove group/other bits from ``root`` and everything under it; return how many changed.

    Run at start on the instance folder, so files written by older versions (or copied in by
    hand) are repaired. Symlinks are neither followed nor changed. A file the app's user may
    not change (owned by someone else) is logged by path and skipped: refusing to start would
    protect nothing.
    """
    root = Path(root)
    paths = [root]
    if root.is_dir() and not root.is_symlink():
        for folder, dirs, files in os.walk(root):
            paths += [Path(folder, name) for name in (*dirs, *files)]
    changed = 0
    for path in paths:
        try:
            changed += _tighten(path)
        except PermissionError:
            log.warning("cannot make %s owner-only: it belongs to another user", path)
    return changed
