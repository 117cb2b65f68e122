"""Files and folders only their owner may read: the server's data dir and logs, the client's
settings, remembered servers and keys.

Modes are set on each file and folder as it is made (0600, 0700), never through the process
umask: a client that hosts a server in its own process must not change how the user's
downloads are created. Where the system has no POSIX modes (Windows) nothing is set: a
user's own folders there are private by their ACLs.

Invariant: a folder shared with others, such as /tmp (its sticky bit says so), is never
closed: only what PyRTC makes in it.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "open_private", "private_dir", "private_file", "private_tree",
           "write_private"]

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_POSIX = os.name == "posix"


def private_dir(path: Path) -> bool:
    """Make the folder `path` (and its missing parents) 0700, or tighten it if it exists;
    returns whether an existing folder had to be tightened."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    if not missing and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path))
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            pass  # made meanwhile (another process of ours)
        _tighten(d, DIR_MODE)  # the umask may have taken bits from the owner
    return not missing and _tighten(path, DIR_MODE)


def private_file(path: Path) -> bool:
    """Tighten an existing file to 0600; returns whether it had to be (False if missing)."""
    return _tighten(path, FILE_MODE)


def private_tree(root: Path) -> int:
    """Make the folder `root` as `private_dir` does, and tighten every folder and file under
    it; returns how many had to be. Only for a folder that is all PyRTC's (never one a user
    names: their programs there would lose their x bit)."""
    changed = int(private_dir(root))
    if not _POSIX:
        return changed
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            changed += _tighten(Path(folder, name), DIR_MODE)
        for name in files:
            changed += _tighten(Path(folder, name), FILE_MODE)
    return changed


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """`os.open` for writing a file that is (made, or tightened to) 0600; returns the fd."""
    fd = os.open(path, flags, FILE_MODE)
    if _POSIX:
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
                os.fchmod(fd, FILE_MODE)
        except BaseException:
            os.close(fd)
            raise
    return fd


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data` at once (a temporary file, then a rename), mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _tighten(path: Path, mode: int) -> bool:
    if not _POSIX:
        return False
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    # Links, sockets, pipes: not ours to change (a link's mode change goes to its target).
    kind = stat.S_ISDIR if mode == DIR_MODE else stat.S_ISREG
    if not kind(st.st_mode) or stat.S_IMODE(st.st_mode) == mode:
        return False
    if st.st_mode & stat.S_ISVTX:
        return False  # a folder shared with others (/tmp): not ours to close
    try:
        os.chmod(path, mode)
    except PermissionError as exc:  # another user's: used as it is, as before
        log.warning("cannot make %s readable by this user only: %s", path, exc.strerror)
        return False
    return True
