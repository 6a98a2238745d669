"""All-or-nothing output folders: a run's files appear together, or not at all.

A run writes into a *staging* folder and swaps it in whole when everything is written and
the inputs are checked unchanged:

* **beside** (the usual case): the staging folder is a sibling of the output folder
  (``.<name>.mmrwe-staging-<id>``). Files in the output folder that mmrwe did not write are
  hard-linked into it, then the two folders are exchanged in one step (Linux
  ``renameat2(RENAME_EXCHANGE)``); where the system has no exchange, two renames, after a
  ``.mmrwe-complete`` marker, so that the next run finishes an interrupted swap.
* **inside**, when the output folder cannot be renamed (it is a mount point, e.g. a
  container volume, or its parent is not writable): the staging folder is inside it and
  the files are moved in one by one after a journal is written; run.json (what says "this
  run finished") is removed first and moved in last, and the next run completes a
  journal it finds.

A lock (``flock`` on ``.mmrwe.lock`` in the folder, kept from run to run and hard-linked
into each new folder) refuses a second run into the same folder while one is running; the
leftovers of killed runs are removed by the next run. A killed, interrupted or failed run
leaves the previous outputs exactly as they were.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from mmrwe.core.errors import MmrweError

STAGING = ".mmrwe-staging-"
OLD = ".mmrwe-old-"
COMPLETE = ".mmrwe-complete"
JOURNAL = ".mmrwe-commit.json"
LOCK = ".mmrwe.lock"

#: Free space asked for on top of the estimate (reports, figures, run.json).
SPACE_MARGIN = 10 * 2**20


class OutputError(MmrweError):
    """The output folder cannot be used or written (a file, permissions, disk full, busy)."""


def os_error_words(exc: OSError, path: Path | str) -> OutputError:
    """An operating-system error while writing outputs, in words, with what to do."""
    code = exc.errno
    if code == errno.ENOSPC or code == errno.EDQUOT:
        return OutputError(
            f"disk full while writing to {path}: the previous outputs are left as they were",
            fix="free some space on that disk (or choose --out on another one) and re-run",
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(
            f"cannot write to {path}: "
            + ("read-only file system" if code == errno.EROFS else "permission denied"),
            fix="choose an --out folder you can write to",
        )
    if code in (errno.ENOTDIR, errno.EEXIST):
        return OutputError(
            f"cannot create the output folder {path}: a file of that name is in the way",
            fix="choose another --out folder, or move that file",
        )
    return OutputError(
        f"cannot write to {path}: {exc.strerror or exc}",
        fix="check the --out folder (exists, writable, on a working disk) and re-run",
    )


# ------------------------------------------------------------------------------------ lock


class _Lock:
    """An exclusive lock held through an open file (released by the system on any exit)."""

    def __init__(self, path: Path, folder: Path) -> None:
        self.path = path
        self.folder = folder
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise os_error_words(exc, self.path.parent) from None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no flock; the swap stays atomic
            self._fd = fd
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputError(
                f"another mmrwe run is writing to {self.folder}",
                fix="wait for it to finish, or choose another --out folder",
            ) from None
        # nothing is written into the lock file: taking the lock changes nothing in the folder
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


# ---------------------------------------------------------------------------- exchange


def _renameat2() -> Callable[[bytes, bytes], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    at_fdcwd, rename_exchange = -100, 2

    def call(a: bytes, b: bytes) -> int:
        return int(fn(at_fdcwd, a, at_fdcwd, b, rename_exchange))

    return call


def exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step; False where the system cannot (then nothing moved)."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(os.fsencode(a), os.fsencode(b)) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EXDEV, errno.EOPNOTSUPP):
        return False
    raise os_error_words(OSError(code, os.strerror(code)), b)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the swap is done (a swap is short; SIGKILL cannot wait)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        got.append(signum)

    old = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for num in got:
            signal.raise_signal(num)


# ------------------------------------------------------------------------ the transaction


class OutputFolder:
    """An output folder written all or nothing (see the module docstring).

    Parameters
    ----------
    out_dir : Path
        The output folder (created if missing).
    owned : callable
        Given the current output folder, the top-level names in it that mmrwe wrote (they
        are replaced; every other entry is kept).
    need_bytes : int
        Estimated size of the outputs; the disk must have this much free (plus a margin)
        before any analysis starts.

    Use as a context manager: ``staging`` is the folder to write into; :meth:`commit`
    swaps it in; leaving the block without committing removes it and leaves the output
    folder as it was.
    """

    def __init__(
        self, out_dir: Path, owned: Callable[[Path], set[str]], *, need_bytes: int = 0
    ) -> None:
        # a symlinked folder is written where it points (the link itself stays)
        self.out = Path(os.path.realpath(out_dir))
        self.owned = owned
        self.need_bytes = int(need_bytes)
        self.staging = self.out  # set by open()
        self.mode = "beside"
        self._lock: _Lock | None = None
        self._id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.committed = False
        self._created = False

    # -- opening

    def __enter__(self) -> OutputFolder:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> Path:
        """Check the folder, take the lock, finish or clean what killed runs left, stage."""
        out = self.out
        if out.exists() and not out.is_dir():
            raise OutputError(
                f"--out {out} is a file, not a folder",
                fix="give a folder (created if missing) for the outputs",
            )
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error_words(exc, out.parent) from None
        self.mode = "beside" if self._can_swap() else "inside"
        self._created = not out.exists()
        try:
            out.mkdir(exist_ok=True)
        except OSError as exc:
            raise os_error_words(exc, out) from None
        # the lock lives in the folder itself, so nothing is left beside it; a run that
        # opens it after a swap locks the new folder's own lock file, which is fine: the
        # swapping run no longer touches the folder
        self._lock = _Lock(out / LOCK, out)
        self._lock.acquire()
        try:
            self._recover()
            self._check_space()
            self.staging = self._staging_path()
            self.staging.mkdir()
        except OSError as exc:
            self.close()
            raise os_error_words(exc, out) from None
        except BaseException:
            self.close()
            raise
        return self.staging

    def _can_swap(self) -> bool:
        out = self.out
        if not os.access(out.parent, os.W_OK | os.X_OK):
            return False
        if out.exists():
            try:
                if os.path.ismount(out) or out.stat().st_dev != out.parent.stat().st_dev:
                    return False
            except OSError:
                return False
        return True

    def _staging_path(self) -> Path:
        if self.mode == "beside":
            return self.out.parent / f".{self.out.name}{STAGING}{self._id}"
        return self.out / f"{STAGING}{self._id}"

    def _check_space(self) -> None:
        if self.need_bytes <= 0:
            return
        free = shutil.disk_usage(self.out if self.out.exists() else self.out.parent).free
        need = self.need_bytes + SPACE_MARGIN
        if free < need:
            raise OutputError(
                f"not enough disk space for the outputs in {self.out}: about "
                f"{need / 2**20:,.0f} MB needed, {free / 2**20:,.0f} MB free",
                fix="free some space on that disk, or choose --out on another one",
            )

    def _recover(self) -> None:
        """Finish a swap a killed run left half done; remove what killed runs left."""
        out = self.out
        if self.mode == "beside":
            prefix = f".{out.name}"
            staged = sorted(out.parent.glob(f"{prefix}{STAGING}*"))
            olds = sorted(out.parent.glob(f"{prefix}{OLD}*"))
            done = [s for s in staged if (s / COMPLETE).exists()]
            if self._created and (done or olds):
                # killed between the two renames of a swap (the folder was missing): the new
                # outputs if they were complete, else the old ones come back
                self._restore(done[-1] if done else olds[-1])
            for p in [*staged, *olds]:
                if p.exists():
                    shutil.rmtree(p, ignore_errors=True)
        else:
            journal = out / JOURNAL
            if journal.exists():
                self._replay(json.loads(journal.read_text(encoding="utf-8")))
                journal.unlink()
            for p in out.glob(f"{STAGING}*"):
                shutil.rmtree(p, ignore_errors=True)
            for p in out.glob(f"{OLD}*"):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()

    def _restore(self, target: Path) -> None:
        out = self.out
        (target / COMPLETE).unlink(missing_ok=True)
        if exchange(target, out):
            shutil.rmtree(target, ignore_errors=True)
        else:
            (out / LOCK).unlink(missing_ok=True)
            out.rmdir()
            target.rename(out)
        # the lock was in the empty folder just replaced: take it again in the restored one
        assert self._lock is not None
        self._lock.release()
        self._lock = _Lock(out / LOCK, out)
        self._lock.acquire()
        self._created = False

    # -- committing

    def commit(self) -> None:
        """Make the staged files the output folder's, in one step where the system allows."""
        try:
            with _signals_deferred():
                if self.mode == "beside":
                    self._commit_beside()
                else:
                    self._commit_inside()
        except OSError as exc:
            raise os_error_words(exc, self.out) from None
        self.committed = True

    def _carry_over(self) -> None:
        """Hard-link the entries mmrwe did not write into the staging folder (kept as they are)."""
        if not self.out.exists():
            return
        mine = self.owned(self.out)
        for entry in self.out.iterdir():
            if entry.name in mine or entry.name.startswith((STAGING, OLD, JOURNAL)):
                continue
            # the lock file too: the same file (a hard link) in the new folder, so a run
            # waiting on it after the swap still finds it held
            dest = self.staging / entry.name
            if dest.exists():
                continue  # mmrwe writes this name now: the new file wins
            if entry.is_dir() and not entry.is_symlink():
                shutil.copytree(entry, dest, symlinks=True, copy_function=_link_or_copy)
            else:
                _link_or_copy(str(entry), str(dest))

    def _commit_beside(self) -> None:
        out = self.out
        self._carry_over()
        if exchange(self.staging, out):
            shutil.rmtree(self.staging, ignore_errors=True)  # now the previous outputs
            return
        (self.staging / COMPLETE).write_bytes(b"")
        old = out.parent / f".{out.name}{OLD}{self._id}"
        out.rename(old)
        self.staging.rename(out)
        (out / COMPLETE).unlink(missing_ok=True)
        shutil.rmtree(old, ignore_errors=True)

    def _commit_inside(self) -> None:
        out = self.out
        new = sorted(p.name for p in self.staging.iterdir())
        stale = sorted(n for n in self.owned(out) if n not in new and (out / n).exists())
        plan = {"staging": self.staging.name, "old": f"{OLD}{self._id}", "new": new, "stale": stale}
        tmp = out / f"{JOURNAL}.{self._id}"
        tmp.write_text(json.dumps(plan), encoding="utf-8")
        os.replace(tmp, out / JOURNAL)
        self._replay(plan)
        (out / JOURNAL).unlink()

    def _replay(self, plan: dict[str, Any]) -> None:
        """Move the staged files in (run.json last); idempotent, so a killed replay resumes."""
        out = self.out
        staging = out / plan["staging"]
        old = out / plan["old"]
        if (staging / "run.json").exists():  # the previous run no longer reads as finished
            (out / "run.json").unlink(missing_ok=True)
        names: list[str] = list(plan["new"])
        names.sort(key=lambda n: n == "run.json")
        for name in [*plan["stale"], *names]:
            src, dst = staging / name, out / name
            if not src.exists() and name in plan["new"]:
                continue  # moved by an earlier replay
            if dst.is_dir() and not dst.is_symlink():
                old.mkdir(exist_ok=True)
                dst.rename(old / name)
            elif dst.exists() or dst.is_symlink():
                dst.unlink()
            if src.exists():
                src.rename(dst)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)

    # -- closing

    def close(self) -> None:
        """Remove the staging folder if it was not committed; release the lock. A folder this
        run created and left empty (a failed first run) is removed too."""
        if not self.committed and self.staging != self.out and self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)
        if self._lock is not None:
            self._lock.release()
            self._lock = None
            if not self.committed and self._created:
                with contextlib.suppress(OSError):
                    (self.out / LOCK).unlink()
                    self.out.rmdir()

    def final(self, paths: Iterable[tuple[str, Path]]) -> dict[str, Path]:
        """Paths in the staging folder mapped to where they are after the commit."""
        return {k: self.out / p.relative_to(self.staging) for k, p in paths}


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)
    return dst
