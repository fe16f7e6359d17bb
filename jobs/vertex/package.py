"""The trainer as a Python package for the package route: built as a source distribution, named by its
content, uploaded once under the run's staging prefix.

Vertex AI pip-installs each of ``PythonPackageSpec.packageUris`` ("a source distribution, formatted as a tar
file (.tar.gz) or as a wheel (.whl)") on the prebuilt container, dependencies from PyPI, then runs
``python -m MODULE`` (``pythonModule``) with the trial's args. The reference trainer's package is made here
from the ``trainer`` folder: the modules, and trainer/requirements.txt less torch (the container has its own).
A user's package is built from ``trainer.package`` with its own build backend (pypa/build; in an isolated
environment when the backend is not installed here).
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

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


class PackageError(UserError, ValueError):
    """The trainer package cannot be built, or lacks the module the spec runs."""


@dataclass(frozen=True)
class TrainerPackage:
    """A built source distribution and the module a trial runs from it."""

    archive: Path
    module: str
    digest: str  # sha256 of the archive's file names and contents: the same sources give the same digest

    def uri(self, staging: str, spec_name: str, run_id: str) -> str:
        """``<staging>/<spec name>/<run id>/packages/<digest>/<archive name>``: a changed package gets a new name."""
        return storage.join(staging, spec_name, run_id, "packages", self.digest[:16], self.archive.name)


def build_package(spec: Spec, spec_dir: Path, out: Path) -> TrainerPackage:
    """Build the spec's trainer package into ``out``: ``trainer.package`` (relative to the spec's folder), or
    the reference trainer's; refused when the archive lacks the module ``trainer.command`` runs."""
    module = module_of(spec.trainer.command)
    if module is None:
        raise PackageError(f"trainer.command {spec.trainer.command}: the package route runs python -m MODULE")
    with tempfile.TemporaryDirectory() as scratch:
        if spec.trainer.package:
            source = (spec_dir / spec.trainer.package).resolve()
            where = f"trainer.package {spec.trainer.package!r} ({source})"
            if not any((source / name).is_file() for name in ("pyproject.toml", "setup.py")):
                raise PackageError(f"{where}: no pyproject.toml or setup.py there; set trainer.package to the "
                                   f"folder holding those of the package that contains {module}")
        else:
            source, where = reference_project(Path(scratch)), f"the reference trainer ({REFERENCE_MODULE})"
        archive = _sdist(source, out, where)
    with tarfile.open(archive) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
        names = {m.name.split("/", 1)[-1] for m in members}
        digest = hashlib.sha256()
        for member in members:
            digest.update(member.name.encode() + b"\0" + tar.extractfile(member).read() + b"\0")
    path = module.replace(".", "/")
    if not any(name.endswith((f"{path}.py", f"{path}/__init__.py")) for name in names):
        raise PackageError(f"{where}: the package built ({archive.name}) has no module {module} (trainer.command "
                           f"runs python -m {module}); its files: {', '.join(sorted(names)[:20])}")
    return TrainerPackage(archive, module, digest.hexdigest())


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


def _sdist(source: Path, out: Path, where: str) -> Path:
    """pypa/build's sdist of ``source``, with the build backend installed here, else in an isolated environment
    (which pip fills from the package index); its output is shown only when the build fails."""
    from build import BuildBackendException, BuildException, ProjectBuilder
    from build.env import DefaultIsolatedEnv
    from pyproject_hooks import quiet_subprocess_runner

    out.mkdir(parents=True, exist_ok=True)
    try:
        builder = ProjectBuilder(source, python_executable=sys.executable, runner=quiet_subprocess_runner)
        if not builder.check_dependencies("sdist"):
            return Path(builder.build("sdist", out))
        with DefaultIsolatedEnv() as env:
            builder = ProjectBuilder.from_isolated_env(env, source, runner=quiet_subprocess_runner)
            env.install(builder.build_system_requires)
            env.install(builder.get_requires_for_build("sdist"))
            return Path(builder.build("sdist", out))
    except BuildBackendException as exc:
        output = (getattr(exc.exception, "output", b"") or b"").decode(errors="replace")
        said = [line for line in output.splitlines() if line.strip() and not line[0].isspace()
                and not line.startswith("Traceback")][-5:]  # the backend's own words, not its traceback
        raise PackageError(f"{where}: building its source distribution failed" +
                           (":\n" + "\n".join(said) if said else f": {exc}")) from None
    except BuildException as exc:
        raise PackageError(f"{where}: {exc}") from None
    except (subprocess.CalledProcessError, OSError) as exc:  # installing its build backend, isolated, failed
        raise PackageError(f"{where}: installing its build backend failed ({exc}); install the backend here "
                           "(pip install BACKEND) so the build needs no download") from None


def upload(package: TrainerPackage, uri: str) -> bool:
    """Upload the archive to ``uri`` unless it is there already (a resubmitted run); True when it uploaded."""
    if storage.exists(uri):
        return False
    storage.write_bytes(uri, package.archive.read_bytes(), content_type="application/gzip")
    return True
