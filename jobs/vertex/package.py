"""The trainer as a Python package for the package route: built as a source distribution, checked, named by its
content, uploaded once under the run's staging prefix.

Vertex AI pip-installs each of ``PythonPackageSpec.packageUris`` ("a source distribution, formatted as a tar
file (.tar.gz) or as a wheel (.whl)") on the prebuilt container, dependencies from PyPI, then runs
``python -m MODULE`` (``pythonModule``) with the trial's args. The reference trainer's package is made here
from the ``trainer`` folder: the modules, and trainer/requirements.txt less torch (the container has its own),
built with this environment's setuptools. A user's package is built from ``trainer.package`` as
``python -m build --sdist`` builds it, with its own build backend in an isolated environment, from a temporary
copy of the folder (symlinks kept as links), so the folder is left as it was.

Before any upload the archive is checked: it may hold no file reached through a symlink that leaves the package
folder, no file that looks like a credential, and be no larger than ``trainer.max_package_mb``. A dry run builds
nothing and runs no code of the package: it lists the folder's files and flags those the checks would refuse.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from jobs import storage
from jobs.containers import PYTHON
from jobs.errors import UserError
from jobs.reference import REFERENCE_MODULE, module_of
from jobs.spec import Spec

REFERENCE_NAME = "sweeps-trainer"
REFERENCE_PROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
description = "The sweeps reference trainer, as Vertex AI's prebuilt containers install it."
requires-python = ">={python}"
dependencies = {dependencies}

[tool.setuptools]
packages = ["{module}"]
"""
MB = 1_000_000  # trainer.max_package_mb counts decimal megabytes
CREDENTIAL_NAME = re.compile(r"\.env(\..+)?|.+\.pem|id_rsa.*|id_ed25519.*|\.netrc")  # a file's name, whole
KEY_JSON_BYTES = 64_000  # a service-account key file is about 2.4 kB: larger JSON files are not read
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"  # PEP 517's choice for a project naming no build-backend
CONTENT_HASH = "<content hash>"  # a dry run's stand-in for the digest of an archive it did not build
SHOWN = 20  # the files a dry run lists, largest first
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


@dataclass(frozen=True)
class TrainerPackage:
    """A built, checked source distribution and the module a trial runs from it."""

    archive: Path
    module: str
    digest: str  # sha256 of the archive's file names and contents: the same sources give the same digest

    def uri(self, staging: str, spec_name: str, run_id: str) -> str:
        """``<staging>/<spec name>/<run id>/packages/<digest>/<archive name>``: a changed package gets a new name."""
        return storage.join(staging, spec_name, run_id, "packages", self.digest[:16], self.archive.name)


@dataclass(frozen=True)
class PackagePlan:
    """What a dry run says of the trainer package without building it: the archive's name where the project
    states it, the backend a submit runs, and the folder's files, largest first."""

    archive_name: str
    module: str
    folder: Path
    backend: str
    isolated: bool  # a user's package: its backend runs in an isolated environment
    files: list[PackageFile]

    def uri(self, staging: str, spec_name: str, run_id: str) -> str:
        """As ``TrainerPackage.uri``, the content hash left to the build."""
        return storage.join(staging, spec_name, run_id, "packages", CONTENT_HASH, self.archive_name)

    def lines(self, uri: str) -> list[str]:
        """The dry run's account of the package, one string per line."""
        total = sum(f.size for f in self.files)
        listed, rest = self.files[:SHOWN], self.files[SHOWN:]
        lines = [f"would upload the trainer package {self.archive_name} (module {self.module}) to {uri}",
                 f"submitting runs its build backend {self.backend} in an isolated environment, on a copy of "
                 f"{self.folder}, then checks the archive; this dry run ran none of the package's code"
                 if self.isolated else f"submitting builds it with this environment's {self.backend}, then checks "
                 "the archive",
                 f"the archive holds the files its backend picks from these {len(self.files)} ({_size(total)}), "
                 "largest first:"]
        lines += [f"  {_size(f.size):>9}  {f.shown}" + (f"  (refused if in the archive: {f.refusal.reason})"
                                                        if f.refusal else "") for f in listed]
        if rest:
            lines.append(f"  … and {len(rest)} more ({_size(sum(f.size for f in rest))})")
        if refused := [f"{f.shown} ({f.refusal.reason})" for f in rest if f.refusal]:
            lines.append(f"also refused if in the archive ({len(refused)}): " + ", ".join(refused[:5]) +
                         (", …" if len(refused) > 5 else ""))
        return lines


def build_package(spec: Spec, spec_dir: Path, out: Path) -> TrainerPackage:
    """Build the spec's trainer package into ``out`` and check it: ``trainer.package`` (relative to the spec's
    folder), or the reference trainer's. Refused (one line naming the file and the fix) when the archive holds a
    file reached through a symlink leaving the folder or looking like a credential, is over
    ``trainer.max_package_mb``, or lacks the module ``trainer.command`` runs."""
    module = _module(spec)
    with tempfile.TemporaryDirectory() as scratch:
        source, where = _source(spec, spec_dir, Path(scratch))
        links = {rel: os.readlink(path) for rel, path in _entries(source) if _leaves(path, source)}
        archive = _sdist(source, out, where, isolated=bool(spec.trainer.package))
    names, digest = check_archive(archive, links, spec.trainer.max_package_mb, where)
    _check_module(names, module, where, f"the package built ({archive.name})")
    return TrainerPackage(archive, module, digest)


def plan_package(spec: Spec, spec_dir: Path, scratch: Path) -> PackagePlan:
    """What ``build_package`` would build, found without running any code of the package: the folder's files,
    each flagged when the checks would refuse it in the archive, and the build backend a submit runs."""
    module = _module(spec)
    source, where = _source(spec, spec_dir, scratch)
    project = _project(source, where)
    files = sorted(_folder_files(source, spec.trainer.max_package_mb), key=lambda f: (-f.size, f.path))
    _check_module({f.path for f in files}, module, where, "its folder")
    return PackagePlan(_archive_name(project), module, source, _backend(project, source),
                       bool(spec.trainer.package), files)


def reference_project(root: Path) -> Path:
    """A project in ``root`` whose sdist holds the reference trainer's modules and declares its needs beyond
    torch (trainer/requirements.txt, also the image's); returns ``root``."""
    found = importlib.util.find_spec(REFERENCE_MODULE)
    folder = Path(next(iter(found.submodule_search_locations)))  # found, not imported
    shutil.copytree(folder, root / REFERENCE_MODULE, ignore=lambda _, names: [n for n in names
                                                                             if not n.endswith(".py")])
    requirements = [line.split("#", 1)[0].strip() for line in (folder / "requirements.txt").read_text().splitlines()]
    needs = [r for r in requirements if r and not r.startswith("torch")]
    (root / "pyproject.toml").write_text(REFERENCE_PROJECT.format(
        name=REFERENCE_NAME, version=version("sweeps"), python=PYTHON, module=REFERENCE_MODULE,
        dependencies="[" + ", ".join(f'"{r}"' for r in needs) + "]"))
    return root


def upload(package: TrainerPackage, uri: str) -> bool:
    """Upload the archive to ``uri`` unless it is there already (a resubmitted run); True when it uploaded."""
    if storage.exists(uri):
        return False
    storage.write_bytes(uri, package.archive.read_bytes(), content_type="application/gzip")
    return True


def _module(spec: Spec) -> str:
    module = module_of(spec.trainer.command)
    if module is None:
        raise PackageError(f"trainer.command {spec.trainer.command}: the package route runs python -m MODULE")
    return module


def _source(spec: Spec, spec_dir: Path, scratch: Path) -> tuple[Path, str]:
    """The folder the package builds from (the reference trainer's project is made in ``scratch``) and how an
    error names it."""
    if not spec.trainer.package:
        return reference_project(scratch), f"the reference trainer ({REFERENCE_MODULE})"
    source = (spec_dir / spec.trainer.package).resolve()
    where = f"trainer.package {spec.trainer.package!r} ({source})"
    if not any((source / name).is_file() for name in ("pyproject.toml", "setup.py")):
        raise PackageError(f"{where}: no pyproject.toml or setup.py there; set trainer.package to the "
                           f"folder holding those of the package that contains {_module(spec)}")
    return source, where


def _check_module(names: set[str], module: str, where: str, what: str) -> None:
    path = module.replace(".", "/")
    if not any(name.endswith((f"{path}.py", f"{path}/__init__.py")) for name in names):
        raise PackageError(f"{where}: {what} has no module {module} (trainer.command runs python -m {module}); "
                           f"its files: {', '.join(sorted(names)[:20])}")


def _entries(folder: Path) -> Iterator[tuple[str, Path]]:
    """Each file and symlink under ``folder`` (symlinks not followed) with its path inside it; FIFOs, sockets
    and devices, which no archive holds, are left out."""
    for top, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            path = Path(top, name)
            if path.is_symlink() or (name in files and stat.S_ISREG(path.lstat().st_mode)):
                yield path.relative_to(folder).as_posix(), path


def _leaves(path: Path, folder: Path) -> bool:
    """Whether ``path`` is a symlink whose target lies outside ``folder``."""
    return path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(folder)


def _folder_files(folder: Path, limit_mb: int) -> list[PackageFile]:
    """The files of ``folder`` as the build's copy holds them, each with what the archive checks would refuse."""
    files = []
    for rel, path in _entries(folder):
        size = path.stat().st_size if path.is_file() else 0
        if path.is_symlink():
            target = os.readlink(path)
            files.append(PackageFile(rel, size, _outside(rel, target) if _leaves(path, folder) else None, target))
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


def _project(folder: Path, where: str) -> dict:
    """The folder's pyproject.toml as a table; empty when it has none."""
    try:
        return tomllib.loads((folder / "pyproject.toml").read_text()) if (folder / "pyproject.toml").is_file() else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PackageError(f"{where}: pyproject.toml is not valid TOML ({exc}); fix it") from None


def _backend(project: dict, folder: Path) -> str:
    """The build backend a submit runs: pyproject.toml's [build-system] build-backend, else setuptools' legacy
    one (PEP 517)."""
    system = project.get("build-system")
    backend = system.get("build-backend") if isinstance(system, dict) else None
    if isinstance(backend, str):
        return f"{backend} (pyproject.toml [build-system])"
    return f"{LEGACY_BACKEND} ({'setup.py' if (folder / 'setup.py').is_file() else 'no build-backend named'})"


def _archive_name(project: dict) -> str:
    """The sdist's name where pyproject.toml states name and version (PEP 625: ``name_normalized-version``)."""
    table = project.get("project")
    if isinstance(table, dict) and isinstance(table.get("name"), str) and isinstance(table.get("version"), str):
        try:
            return f"{canonicalize_name(table['name']).replace('-', '_')}-{Version(table['version'])}.tar.gz"
        except InvalidVersion:
            pass
    return "<name>-<version>.tar.gz"


def _size(size: int) -> str:
    return f"{size} B" if size < 1000 else f"{size / 1000:.1f} kB" if size < MB else f"{size / MB:.1f} MB"


def _copy(source: Path, scratch: Path, where: str) -> Path:
    """A copy of ``source`` in ``scratch``, symlinks kept as links (the archive's checks judge where they
    lead), FIFOs, sockets and devices left out."""
    def special(top: str, names: list[str]) -> list[str]:
        modes = {name: os.lstat(os.path.join(top, name)).st_mode for name in names}
        return [n for n, m in modes.items() if not (stat.S_ISREG(m) or stat.S_ISDIR(m) or stat.S_ISLNK(m))]

    copy = scratch / (source.name or "package")
    try:
        shutil.copytree(source, copy, symlinks=True, ignore=special)
    except (shutil.Error, OSError) as exc:
        first = "{0}: {2}".format(*exc.args[0][0]) if isinstance(exc, shutil.Error) else exc  # (source, copy, why)
        raise PackageError(f"{where}: copying the folder to build it failed ({first}); make its files readable, or "
                           "remove those that are not") from None
    return copy


def _installer() -> str:
    """uv where this environment or PATH has it (pypa/build looks in the same places), else pip."""
    return "uv" if importlib.util.find_spec("uv") or shutil.which("uv") else "pip"


def _sdist(source: Path, out: Path, where: str, isolated: bool) -> Path:
    """pypa/build's sdist of a copy of ``source``: ``isolated``, in an environment holding only the backend's
    requirements (as ``python -m build --sdist``), else with this environment's backend. The backend's output
    is shown only when the build fails."""
    from build import BuildBackendException, BuildException, ProjectBuilder
    from build.env import DefaultIsolatedEnv
    from pyproject_hooks import quiet_subprocess_runner

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        copy = _copy(source, Path(scratch), where)
        try:
            if not isolated:
                return Path(ProjectBuilder(copy, runner=quiet_subprocess_runner).build("sdist", out))
            with DefaultIsolatedEnv(installer=_installer()) as env:
                builder = ProjectBuilder.from_isolated_env(env, copy, runner=quiet_subprocess_runner)
                env.install(builder.build_system_requires)
                env.install(builder.get_requires_for_build("sdist"))
                return Path(builder.build("sdist", out))
        except BuildBackendException as exc:
            said = _said(getattr(exc.exception, "output", b""))  # the backend's own words, not its traceback
            raise PackageError(f"{where}: building its source distribution failed" +
                               (":\n" + "\n".join(said) if said else f": {exc}")) from None
        except BuildException as exc:
            raise PackageError(f"{where}: {exc}") from None
        except subprocess.CalledProcessError as exc:  # installing the backend's requirements
            said = _said(exc.stderr)[-1:] or [f"exit status {exc.returncode}"]
            raise PackageError(f"{where}: installing its build requirements in an isolated environment failed "
                               f"({said[0]}); check [build-system] requires in pyproject.toml, and that the "
                               "package index is reachable") from None


def _said(output: bytes | None) -> list[str]:
    """The last lines of a process's output that are not indented or a traceback's."""
    lines = (output or b"").decode(errors="replace").splitlines()
    return [line for line in lines if line.strip() and not line[0].isspace() and not line.startswith("Traceback")][-5:]


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
            f"the largest file ({_size(largest[0])}) of a {_size(size)} archive, over trainer.max_package_mb "
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
