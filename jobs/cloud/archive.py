"""What a trainer package's archive may hold, checked before any upload: no file reached through a symlink that
leaves the package folder, no file that looks like a credential, and no more than ``trainer.max_package_mb``.

``check_archive`` judges a built sdist; ``folder_files`` says the same of a folder, for a dry run that builds
nothing. Each refusal names the file inside the package and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from jobs.errors import UserError

MB = 1_000_000  # trainer.max_package_mb counts decimal megabytes
CREDENTIAL_NAME = re.compile(r"\.env(\..+)?|.+\.pem|id_rsa.*|id_ed25519.*|\.netrc")  # a file's name, whole
KEY_JSON_BYTES = 64_000  # a service-account key file is about 2.4 kB: larger JSON files are not read


EXCLUDE = "exclude {} from the archive (MANIFEST.in exclude/prune, or the build backend's exclude setting)"
TOO_LARGE = f"{EXCLUDE.format('large files')}, or raise trainer.max_package_mb"


class PackageError(UserError, ValueError):
    """The trainer package cannot be built, is refused, or lacks the module the spec runs."""


class Refusal(NamedTuple):
    """Why the archive may not hold a file, and what to do about it."""

    reason: str
    fix: str


@dataclass(frozen=True)
class PackageFile:
    """A file of the package folder as the build's copy holds it (a symlink: its target's size, if a file)."""

    path: str  # inside the package folder
    size: int
    refusal: Refusal | None
    target: str | None = None  # a symlink's

    @property
    def shown(self) -> str:
        return self.path if self.target is None else f"{self.path} -> {self.target}"


def entries(folder: Path) -> Iterator[tuple[str, Path]]:
    """Each file and symlink under ``folder`` (symlinks not followed) with its path inside it; FIFOs, sockets
    and devices, which no archive holds, are left out."""
    for top, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            path = Path(top, name)
            if path.is_symlink() or (name in files and stat.S_ISREG(path.lstat().st_mode)):
                yield path.relative_to(folder).as_posix(), path


def leaves_folder(path: Path, folder: Path) -> bool:
    """Whether ``path`` is a symlink whose target lies outside ``folder``."""
    return path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(folder)


def folder_files(folder: Path, limit_mb: int) -> list[PackageFile]:
    """The files of ``folder`` as the build's copy holds them, each with what the archive checks would refuse."""
    files = []
    for rel, path in entries(folder):
        size = path.stat().st_size if path.is_file() else 0
        if path.is_symlink():
            target = os.readlink(path)
            files.append(PackageFile(rel, size, _outside(rel, target) if leaves_folder(path, folder) else None, target))
            continue
        refusal = _credential(rel, size, path.read_bytes)
        if not refusal and size > limit_mb * MB:
            refusal = Refusal(f"over trainer.max_package_mb ({limit_mb} MB) unless it compresses well", TOO_LARGE)
        files.append(PackageFile(rel, size, refusal))
    return files


def _outside(link: str, target: str) -> Refusal:
    return Refusal(f"reached through the symlink {link} -> {target}, which leaves the package folder",
                   "replace the symlink with a copy of what it points to, or remove it")


def _credential(path: str, size: int, read: Callable[[], bytes]) -> Refusal | None:
    """Why the file at ``path`` (inside the package) looks like a credential; None when it does not."""
    name = path.rsplit("/", 1)[-1]
    if ".git" in path.split("/"):
        reason = "part of a git repository (.git/)"
    elif CREDENTIAL_NAME.fullmatch(name):
        reason = "named like a credential (.env*, *.pem, id_rsa*, id_ed25519*, .netrc)"
    elif name.endswith(".json") and size <= KEY_JSON_BYTES and _holds_private_key(read):
        reason = "a service-account key (JSON holding private_key)"
    else:
        return None
    return Refusal(reason, f"remove it from the folder, or {EXCLUDE.format('it')}")


def _holds_private_key(read: Callable[[], bytes]) -> bool:
    """Whether the JSON ``read`` gives is an object holding a private_key (an unreadable file fails the build's
    copy of the folder instead)."""
    try:
        parsed = json.loads(read())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(parsed, dict) and "private_key" in parsed


def size_text(size: int) -> str:
    return f"{size} B" if size < 1000 else f"{size / 1000:.1f} kB" if size < MB else f"{size / MB:.1f} MB"


def check_archive(archive: Path, links: dict[str, str], limit_mb: int, where: str) -> tuple[set[str], str]:
    """Check a built archive before it is uploaded; return the paths of the files it holds (inside the package)
    and its digest. Refused, in one line naming the first file and the fix, when it holds a file reached through
    one of ``links`` (the folder's symlinks that leave it: path -> target), a symlink leaving the archive or a
    file that looks like a credential, or when it is over ``limit_mb``."""
    refusals: list[tuple[str, Refusal]] = []
    digest, names, largest = hashlib.sha256(), set(), (0, "")
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            path = member.name.split("/", 1)[-1]
            if member.issym() and (refusal := _leaving_link(path, member.linkname)):
                refusals.append((path, refusal))
            if not member.isfile():
                continue
            with tar.extractfile(member) as content:  # in pieces: a small archive may unpack to a large file
                digest.update(member.name.encode() + b"\0")
                for piece in iter(lambda: content.read(MB), b""):
                    digest.update(piece)
                digest.update(b"\0")
            names.add(path)
            largest = max(largest, (member.size, path))
            through = next((link for link in links if path == link or path.startswith(link + "/")), None)
            if refusal := (_outside(through, links[through]) if through else None) or _credential(
                    path, member.size, lambda member=member: tar.extractfile(member).read()):
                refusals.append((path, refusal))
    if (size := archive.stat().st_size) > limit_mb * MB:
        refusals.append((largest[1], Refusal(
            f"the largest file ({size_text(largest[0])}) of a {size_text(size)} archive, over trainer.max_package_mb "
            f"({limit_mb} MB)", TOO_LARGE)))
    if refusals:
        (path, (reason, fix)), rest = refusals[0], refusals[1:]
        more = (f" (and {len(rest)} more: {', '.join(p for p, _ in rest[:5])}{', …' if len(rest) > 5 else ''})"
                if rest else "")
        raise PackageError(f"{where}: refusing to upload {archive.name}: {path}: {reason}{more}; {fix}")
    return names, digest.hexdigest()


def _leaving_link(path: str, target: str) -> Refusal | None:
    """Why a symlink the archive holds at ``path`` may not be there: its target leaves the package."""
    resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
    if os.path.isabs(target) or resolved == ".." or resolved.startswith("../"):
        return _outside(path, target)
    return None
