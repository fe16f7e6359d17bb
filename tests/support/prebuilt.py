"""The stand-in's prebuilt training container: a clean virtual environment that has torch (and what torch
needs) and nothing else, into which a job's ``pythonPackageSpec.packageUris`` are pip-installed from GCS.

As documented ("Create a Python training application for a prebuilt container"): the container pip-installs
each package URI, dependencies from PyPI, then runs ``python -m pythonModule`` with ``args`` and the trial's
parameters. Vertex AI installs in each trial's own container; the stand-in installs once per job (the same
packages into the same kind of environment) so that a test does not pay for it on every trial, and with uv
when it is installed here (tests/support/helpers.py: pip_install; the same archives, built and resolved by the same
standards, in seconds rather than tens of them). The real
images carry more (PyTorch 2.4, pandas, cloudml-hypertune...); here the torch is this machine's, shared into
the environment by a .pth file, so that a package which forgets to declare a need beyond torch fails here too.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import Distribution, distribution
from pathlib import Path

from packaging.requirements import Requirement

from jobs.cloud import storage
from tests.support.helpers import pip_install


def _with_requirements(name: str, found: dict[str, Distribution]) -> dict[str, Distribution]:
    """``name``'s installed distribution and, recursively, those it requires here (extras left out)."""
    dist = distribution(name)
    key = dist.metadata["Name"].lower()
    if key not in found:
        found[key] = dist
        for requirement in map(Requirement, dist.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                _with_requirements(requirement.name, found)
    return found


def _torch_site(folder: Path) -> Path:
    """A folder of links to this machine's torch and the distributions it needs: the container's own packages."""
    folder.mkdir(parents=True, exist_ok=True)
    for dist in _with_requirements("torch", {}).values():
        site = Path(dist.locate_file(""))
        for top in {str(f).split("/")[0] for f in dist.files or () if not str(f).startswith("..")}:
            if top != "__pycache__" and not top.endswith(".pth") and not (folder / top).exists():
                (folder / top).symlink_to(site / top)
    return folder


def install(package_uris: list[str], folder: Path) -> tuple[Path | None, Path]:
    """Make the container in ``folder`` and install the packages into it: (its python, or None when the
    install failed; the install's log)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "install.log"
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "container.pth").write_text(str(_torch_site(folder / "container-site")) + "\n")
    archives = []
    for uri in package_uris:  # PythonPackageSpec.packageUris: Cloud Storage locations
        archives.append(folder / uri.rsplit("/", 1)[1])
        archives[-1].write_bytes(storage.read_bytes(uri))
    with open(log, "wb") as out:
        done = pip_install(python, *map(str, archives), stdout=out, stderr=subprocess.STDOUT)
    return (python if done.returncode == 0 else None), log
