"""Result and state folders: the one atomic writer, what microwork writes into each kind of
folder, and the checks that keep it from replacing or deleting anything else.

Every folder microwork writes (a run, comparison, sweep, sensitivity or calibration result) is
written by :func:`staged_folder`: into a hidden staging folder beside the target, renamed into
place at the end, so that an error or Ctrl-C never leaves half a result. Its ``manifest.json``
says that microwork wrote it and which kind of folder it is (:func:`write_manifest`). An
existing target is replaced only when it is empty, or when its manifest carries that marker for
the same kind and it holds nothing but the files microwork writes into that kind of folder
(:data:`RESULT_FILES`, plus the ``report.html`` of ``microwork report``); anything else is
refused with a :class:`~sim.errors.StoreError`, so a mistyped ``--out`` never wipes out a
folder of other files.

State folders (the finished runs of an interrupted comparison, sweep or sensitivity analysis)
follow the same rule through :class:`StateLayout`: their spec file carries the marker, every
entry must be one the store writes, and each state file is written atomically
(:func:`replacing`). Staging folders and temporary files are named recognisably
(``.<name>.microwork-staging-<pid>-<host>-<random>``); those left behind by a killed process
are removed by the next write into the same folder.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sim.foundation.errors import SHOWN_CHARACTERS, StoreError, shown
from sim.foundation.version import __version__

WRITTEN_BY = "microwork"
"""Value of the ``written_by`` entry of every manifest and spec file microwork writes."""
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.html"
"""The HTML report ``microwork report`` writes into a result folder by default."""
REPORT_GENERATOR = '<meta name="generator" content="microwork'
"""How a report page made by microwork starts its generator tag (checked before replacing)."""
RESULT_FILES: dict[str, tuple[str, ...]] = {
    "run": ("tasks.parquet", "workers.parquet", "sessions.parquet", "registrations.parquet",
            "summary.json", MANIFEST_FILE, "lorenz.png", "monthly_earnings.png",
            "latency_cdf.png", "hourly_pay.png", "platforms.png"),
    "comparison": ("runs.parquet", "table.csv", "paired.csv", "earnings_replication0.parquet",
                   MANIFEST_FILE, "metric_intervals.png", "lorenz_overlay.png", "tradeoff.png",
                   "profile_earnings.png", "winners_losers.png", "latency_overlay.png"),
    "sweep": ("runs.parquet", "points.json", "table.csv", MANIFEST_FILE, "lines_*.png",
              "heatmap_*.png"),
    "sensitivity": ("indices.csv", "runs.parquet", "points.json", MANIFEST_FILE,
                    "sobol_indices.png", "morris.png"),
    "calibration": ("calibration.csv", "calibration.png", "fitted.yaml", MANIFEST_FILE),
}
"""Per kind of result folder, the names (or name patterns) of every file microwork writes into
it; with :data:`REPORT_FILE`, nothing else may be in a folder that microwork replaces."""
NAME_LIMIT = 80
"""Longest name (in characters) microwork derives from a scenario, spec or variant name before
cutting it and appending a short hash of the full name."""

_TEMPORARY = re.compile(r"\..*\.microwork-(?:staging|old|tmp)-(\d+)-([A-Za-z0-9]+)-[A-Za-z0-9_]+")
"""Names of staging folders, replaced folders and temporary files (pid, host)."""


# --------------------------------------------------------------------------- names


def capped(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` itself when at most ``limit`` characters long, else its first ``limit``
    characters followed by ``~`` and 10 hex digits of its hash: short enough for any file
    system, still distinct for distinct texts."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{text[:limit]}~{digest}"


def safe_name(name: str, fallback: str = "scenario") -> str:
    """``name`` reduced to characters safe in a path (others become ``_``; ``fallback`` when
    nothing is left) and capped at :data:`NAME_LIMIT` characters (see :func:`capped`)."""
    return capped(re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or fallback)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", socket.gethostname())[:32] or "host"


def _temporary_prefix(name: str, role: str) -> str:
    """Prefix of a temporary entry beside ``name``: hidden, recognisable, with the process id
    and host that own it."""
    return f".{safe_name(name, 'folder')}.microwork-{role}-{os.getpid()}-{_host()}-"


def is_temporary(name: str) -> bool:
    """True for the name of a staging folder or temporary file microwork writes."""
    return _TEMPORARY.fullmatch(name) is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM), or no way to tell: keep its files
        return True
    return True


def remove_stale(parent: Path) -> None:
    """Remove the staging folders and temporary files in ``parent`` left by microwork
    processes of this host that are no longer running (killed in the middle of a write)."""
    host = _host()
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or match.group(2) != host or _alive(int(match.group(1))):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with suppress(OSError):
                os.unlink(entry.path)


def _public(path: Path, mode: int) -> None:
    """Give ``path`` the permissions of an ordinary new file or folder (``mode`` less the
    umask): tempfile makes them private, a result is not."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


# --------------------------------------------------------------------------- files


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write, then rename it onto ``path``: readers
    see the old file or the new one, never half of one. On any error the temporary file is
    removed and ``path`` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=_temporary_prefix(path.name, "tmp"), dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        _public(tmp, 0o666)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`replacing`)."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _failure(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "it is missing"
    if isinstance(exc, UnicodeDecodeError):
        return "it is not text (UTF-8)"
    if isinstance(exc, json.JSONDecodeError):
        return f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    text = str(exc) or type(exc).__name__
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."


def read_json(path: Path) -> Any:
    """The JSON value in ``path``; a missing, unreadable, truncated or invalid file raises
    StoreError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {path}: {_failure(exc)}") from None


def read_table(path: Path, reader: Callable[[Path], Any]) -> Any:
    """``reader(path)`` (e.g. ``pandas.read_parquet``, ``pandas.read_csv``); a missing or
    damaged file raises StoreError naming it instead of the reader's own error."""
    try:
        return reader(path)
    except StoreError:
        raise
    except (OSError, ValueError, KeyError, IndexError) as exc:  # Arrow and pandas errors
        raise StoreError(f"cannot read {path}: {_failure(exc)}") from None


def marked(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` preceded by the marker of a file microwork writes: ``written_by`` and the
    ``kind`` of folder it describes."""
    return {"written_by": WRITTEN_BY, "kind": kind,
            **{k: v for k, v in data.items() if k not in ("written_by", "kind")}}


def write_manifest(folder: Path, kind: str, manifest: Mapping[str, Any]) -> None:
    """Write ``folder/manifest.json``: ``manifest`` with the marker (see :func:`marked`)."""
    text = json.dumps(marked(kind, manifest), indent=2, default=str)
    (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")


def manifest_kind(folder: Path) -> str | None:
    """The kind written in the marker of ``folder/manifest.json`` (run, comparison, sweep,
    sensitivity, calibration), or None when the manifest has no marker (a folder microwork did
    not write, or wrote before the marker existed). A damaged manifest raises StoreError."""
    manifest = read_json(folder / MANIFEST_FILE)
    if isinstance(manifest, dict) and manifest.get("written_by") == WRITTEN_BY:
        kind = manifest.get("kind")
        return kind if kind in RESULT_FILES else None
    return None


# --------------------------------------------------------------------------- result folders


def _known_result_file(kind: str, name: str) -> bool:
    patterns = (*RESULT_FILES[kind], REPORT_FILE)
    return is_temporary(name) or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def check_replaceable(target: Path, kind: str) -> None:
    """Raise StoreError unless ``target`` may be replaced by a ``kind`` result folder: it does
    not exist, is an empty folder, or is a ``kind`` folder microwork wrote (marker in its
    manifest) holding only the files microwork writes there."""
    if kind not in RESULT_FILES:
        raise ValueError(f"unknown kind of result folder {kind!r}")
    if not target.exists() and not target.is_symlink():
        return
    refuse = f"refusing to replace it with a {kind} result: choose another folder"
    if not target.is_dir():
        raise StoreError(f"{target} exists and is not a folder; {refuse}")
    names = sorted(entry.name for entry in os.scandir(target))
    if not names:
        return
    if MANIFEST_FILE not in names:
        raise StoreError(f"{target} is not empty and is not a microwork result folder (it has "
                         f"no {MANIFEST_FILE}); {refuse}")
    try:
        found = manifest_kind(target)
    except StoreError as exc:
        raise StoreError(f"{exc}; {refuse}, or remove the folder by hand") from None
    if found is None:
        raise StoreError(
            f"{target}/{MANIFEST_FILE} does not say that microwork wrote it (no "
            f'"written_by": "{WRITTEN_BY}"): the folder is not a microwork result, or one '
            f"written by an older version; {refuse}, or remove the folder by hand")
    if found != kind:
        raise StoreError(f"{target} holds a microwork {found} result, not a {kind} result; "
                         f"{refuse}, or remove the folder by hand")
    foreign = [n for n in names if not _known_result_file(kind, n) or (target / n).is_dir()]
    if foreign:
        raise StoreError(f"{target} holds files microwork does not write into a {kind} folder "
                         f"({shown(foreign)}); {refuse}, or move those files away")


def _replace_folder(new: Path, target: Path) -> None:
    """Move folder ``new`` to ``target``, replacing an existing folder as atomically as
    possible (the old one is renamed aside, then removed)."""
    try:
        os.replace(new, target)  # target absent or empty
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
            raise
    old = target.with_name(_temporary_prefix(target.name, "old") + os.urandom(4).hex())
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_folder(target: Path, kind: str) -> Iterator[Path]:
    """Yield an empty staging folder to write a ``kind`` result into, then move it to
    ``target``; on any error (or Ctrl-C) remove it, so ``target`` is never half-written.

    ``target`` must be replaceable (:func:`check_replaceable`), checked before writing and
    again just before the move; the folder gets the permissions of an ordinary new folder.
    Staging folders that killed processes left in the parent are removed first."""
    target = Path(target).expanduser().resolve()
    check_replaceable(target, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target.name, "staging"),
                                    dir=target.parent))
    try:
        _public(staging, 0o777)
        yield staging
        check_replaceable(target, kind)  # it may have changed while the result was computed
        _replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_folder(directory: str | Path, kind: str, write: Callable[[Path], None]) -> Path:
    """Write a ``kind`` result folder with ``write(folder)`` through :func:`staged_folder`
    and return its path (what the API's ``save`` methods do)."""
    target = Path(directory)
    with staged_folder(target, kind) as staging:
        write(staging)
    return target


# --------------------------------------------------------------------------- reports


def check_report_target(path: Path) -> None:
    """Raise StoreError unless ``path`` is absent or a report page microwork wrote (its
    generator tag says so), so ``microwork report --out FILE`` never overwrites another file."""
    if not path.exists():
        return
    if not path.is_file():
        raise StoreError(f"{path} exists and is not a file; refusing to replace it with a "
                         "report: choose another file")
    try:
        with path.open("rb") as stream:
            head = stream.read(4096).decode("utf-8", "replace")
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {_failure(exc)}") from None
    if REPORT_GENERATOR not in head:
        raise StoreError(f"{path} exists and is not a report written by microwork report; "
                         "refusing to overwrite it: choose another file, or remove it by hand")


# --------------------------------------------------------------------------- state folders


@dataclass(frozen=True)
class StateLayout:
    """Where a store keeps the finished runs of an experiment: its spec file, its other files
    and the folders holding one file per run. It checks that a folder is a state folder that
    microwork wrote before it is used or deleted, and counts the finished runs."""

    kind: str
    """What the state is of ("comparison", "experiment"), for the marker and messages."""
    files: tuple[str, ...]
    """Files beside the spec file (rewritten when the store opens)."""
    run_dirs: tuple[str, ...]
    """Folders (relative paths) holding one file per finished run; the first one lists them."""
    is_run_file: Callable[[str], bool]
    """True for the name of a run file."""
    spec_file: str = "spec.json"

    def _known(self, relative: PurePosixPath) -> bool:
        text = str(relative)
        containers = {str(p) for d in self.run_dirs for p in PurePosixPath(d).parents}
        if text in {self.spec_file, *self.files, *self.run_dirs} | containers:
            return True
        return str(relative.parent) in self.run_dirs and self.is_run_file(relative.name)

    @staticmethod
    def _entries(folder: Path) -> Iterator[PurePosixPath]:
        """Every file and folder below ``folder`` (relative), except temporary files."""
        for root, dirs, files in os.walk(folder):
            for name in [*dirs, *files]:
                if not is_temporary(name):
                    yield PurePosixPath((Path(root) / name).relative_to(folder).as_posix())

    def count(self, folder: Path) -> int:
        """Number of finished runs in ``folder`` (0 when it does not exist)."""
        runs = folder / self.run_dirs[0]
        try:
            return sum(1 for e in os.scandir(runs) if self.is_run_file(e.name))
        except OSError:
            return 0

    def check(self, folder: Path) -> dict[str, Any] | None:
        """The spec stored in ``folder``, or None when the folder is absent or empty (it may be
        used). Raise StoreError when it is not a state folder microwork wrote: no spec file,
        a spec without the marker or of another kind, or entries the store does not write."""
        if not folder.exists():
            return None
        what = f"the state of an interrupted {self.kind}"
        if not folder.is_dir():
            raise StoreError(f"{folder} exists and is not a folder; it would hold {what}: "
                             "move it or choose another output folder")
        entries = list(self._entries(folder))
        if not entries:
            return None
        if not (folder / self.spec_file).is_file():
            raise StoreError(f"{folder} is not empty and does not hold {what} (no "
                             f"{self.spec_file}); it would be used and then deleted: move it "
                             "or choose another output folder")
        data = read_json(folder / self.spec_file)
        if not (isinstance(data, dict) and data.get("written_by") == WRITTEN_BY
                and data.get("kind") == self.kind and "spec" in data):
            raise StoreError(f"{folder / self.spec_file} does not say that microwork wrote it "
                             f"for {what} (or an older version did); move the folder or remove "
                             "it by hand")
        foreign = [str(rel) for rel in entries if not self._known(rel)]
        if foreign:
            raise StoreError(f"{folder} holds files microwork does not write into {what} "
                             f"({shown(foreign)}); it would be deleted with them: move them "
                             "away or choose another output folder")
        return data["spec"]

    def open(self, folder: Path, spec: Mapping[str, Any]) -> None:
        """Make ``folder`` the state of the experiment ``spec``: check it (see :meth:`check`),
        refuse one holding another experiment, write the spec file with the marker, and remove
        the temporary files killed writers left there."""
        stored = self.check(folder)
        if stored is not None and _canonical(stored) != _canonical(spec):
            raise StoreError(f"{folder} holds the state of a different {self.kind} (other "
                             "scenario, variants, grid, problem or seed); remove it or choose "
                             "another output folder")
        folder.mkdir(parents=True, exist_ok=True)
        for sub in (folder, *(folder / d for d in self.run_dirs)):
            remove_stale(sub)
        if stored is None:
            write_text(folder / self.spec_file, json.dumps(
                {"written_by": WRITTEN_BY, "kind": self.kind, "spec": spec}, sort_keys=True,
                indent=1, default=str))

    def remove(self, folder: Path) -> None:
        """Delete ``folder`` once its results are written, if it is still a state folder
        microwork wrote (see :meth:`check`); raise StoreError and keep it otherwise."""
        if self.check(folder) is not None or folder.is_dir():
            shutil.rmtree(folder)


def _canonical(spec: Any) -> str:
    return json.dumps(spec, sort_keys=True, default=str)


def damaged(bad: Iterable[tuple[Path, str]], repair: bool) -> None:
    """Deal with the damaged state files a store found when it opened: with ``repair``
    delete them (their runs are computed again), else raise StoreError naming the first and
    the way out."""
    bad = list(bad)
    if not bad:
        return
    if repair:
        for path, _why in bad:
            path.unlink(missing_ok=True)
        return
    path, why = bad[0]
    more = f" (and {len(bad) - 1} more damaged file{'s' if len(bad) > 2 else ''})" \
        if len(bad) > 1 else ""
    raise StoreError(f"{path} is damaged: {why}{more}; run the same command again with "
                     "--repair (repair=True in Python) to delete the damaged files and compute "
                     "those runs again")


def provenance() -> dict[str, Any]:
    """Package version and git commit, recorded in every manifest."""
    return {"package_version": __version__, "git_commit": _git_commit()}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
