"""The trainer as a Python package for the package route: built as a source distribution, checked, named by its
content, uploaded once under the run's staging prefix.

Vertex AI pip-installs each of ``PythonPackageSpec.packageUris`` ("a source distribution, formatted as a tar
file (.tar.gz) or as a wheel (.whl)") on the prebuilt container, dependencies from PyPI, then runs
``python -m MODULE`` (``pythonModule``) with the trial's args. The reference trainer's package is made here
from the ``trainer`` folder: the modules, and trainer/requirements.txt less torch (the container has its own),
built with this environment's setuptools. A user's package is built from ``trainer.package`` as
``python -m build --sdist`` builds it, with its own build backend in an isolated environment, from a temporary
copy of the folder (symlinks kept as links), so the folder is left as it was.

Before any upload the archive is checked (``jobs.cloud.archive``). A dry run builds nothing and runs no code of
the package: it lists the folder's files and flags those the checks would refuse.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from jobs.cloud import storage
from jobs.cloud.archive import (
    PackageError,
    PackageFile,
    check_archive,
    entries,
    folder_files,
    leaves_folder,
    size_text,
)
from jobs.spec import Spec
from jobs.trial.command import REFERENCE_MODULE, module_of

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
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"  # PEP 517's choice for a project naming no build-backend
CONTENT_HASH = "<content hash>"  # a dry run's stand-in for the digest of an archive it did not build
SHOWN = 20  # the files a dry run lists, largest first


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
                 f"the archive holds the files its backend picks from these {len(self.files)} ({size_text(total)}), "
                 "largest first:"]
        lines += [f"  {size_text(f.size):>9}  {f.shown}" + (f"  (refused if in the archive: {f.refusal.reason})"
                                                        if f.refusal else "") for f in listed]
        if rest:
            lines.append(f"  … and {len(rest)} more ({size_text(sum(f.size for f in rest))})")
        if refused := [f"{f.shown} ({f.refusal.reason})" for f in rest if f.refusal]:
            lines.append(f"also refused if in the archive ({len(refused)}): " + ", ".join(refused[:5]) +
                         (", …" if len(refused) > 5 else ""))
        return lines


def build_package(spec: Spec, spec_dir: Path, out: Path, python: str) -> TrainerPackage:
    """Build the spec's trainer package into ``out`` and check it: ``trainer.package`` (relative to the spec's
    folder), or the reference trainer's. Refused (one line naming the file and the fix) when the archive holds a
    file reached through a symlink leaving the folder or looking like a credential, is over
    ``trainer.max_package_mb``, or lacks the module ``trainer.command`` runs."""
    module = _module(spec)
    with tempfile.TemporaryDirectory() as scratch:
        source, where = _source(spec, spec_dir, Path(scratch), python)
        links = {rel: os.readlink(path) for rel, path in entries(source) if leaves_folder(path, source)}
        archive = _sdist(source, out, where, isolated=bool(spec.trainer.package))
    names, digest = check_archive(archive, links, spec.trainer.max_package_mb, where)
    _check_module(names, module, where, f"the package built ({archive.name})")
    return TrainerPackage(archive, module, digest)


def plan_package(spec: Spec, spec_dir: Path, scratch: Path, python: str) -> PackagePlan:
    """What ``build_package`` would build, found without running any code of the package: the folder's files,
    each flagged when the checks would refuse it in the archive, and the build backend a submit runs."""
    module = _module(spec)
    source, where = _source(spec, spec_dir, scratch, python)
    project = _project(source, where)
    files = sorted(folder_files(source, spec.trainer.max_package_mb), key=lambda f: (-f.size, f.path))
    _check_module({f.path for f in files}, module, where, "its folder")
    return PackagePlan(_archive_name(project), module, source, _backend(project, source),
                       bool(spec.trainer.package), files)


def reference_project(root: Path, python: str) -> Path:
    """A project in ``root`` whose sdist holds the reference trainer's modules and declares its needs beyond
    torch (trainer/requirements.txt, also the image's), for the ``python`` version the trials run; returns
    ``root``."""
    found = importlib.util.find_spec(REFERENCE_MODULE)
    folder = Path(next(iter(found.submodule_search_locations)))  # found, not imported
    shutil.copytree(folder, root / REFERENCE_MODULE, ignore=lambda _, names: [n for n in names
                                                                             if not n.endswith(".py")])
    requirements = [line.split("#", 1)[0].strip() for line in (folder / "requirements.txt").read_text().splitlines()]
    needs = [r for r in requirements if r and not r.startswith("torch")]
    (root / "pyproject.toml").write_text(REFERENCE_PROJECT.format(
        name=REFERENCE_NAME, version=version("sweeps"), python=python, module=REFERENCE_MODULE,
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


def _source(spec: Spec, spec_dir: Path, scratch: Path, python: str) -> tuple[Path, str]:
    """The folder the package builds from (the reference trainer's project is made in ``scratch``) and how an
    error names it."""
    if not spec.trainer.package:
        return reference_project(scratch, python), f"the reference trainer ({REFERENCE_MODULE})"
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


