"""The package route uploads only what it should: the package is built from a temporary copy of its folder in an
isolated environment (whatever its build backend), the archive is checked before any upload (no file through a
symlink leaving the folder, nothing that looks like a credential, nothing over trainer.max_package_mb), and a dry
run lists the folder's files and runs none of the package's code."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest

from jobs.cloud import storage
from jobs.cloud.archive import check_archive
from jobs.cloud.package import PackageError, build_package
from jobs.spec import SpecError, load_spec
from jobs.vertex.backend import VertexBackend
from jobs.vertex.containers import PYTHON
from tests.jobs.vertex.test_package_route import no_image_outputs
from tests.support.sweeps import tune_with
from tests.support.vertex import SERVED, read, write_spec

BACKENDS = {  # [build-system] requires, build-backend, and what else pyproject.toml needs
    "setuptools": ("setuptools>=69", "setuptools.build_meta", '[tool.setuptools]\npackages = ["mod"]\n'),
    "hatchling": ("hatchling", "hatchling.build", ""),
    "flit_core": ("flit_core>=3.4", "flit_core.buildapi", ""),
}
SERVICE_ACCOUNT_KEY = {"type": "service_account", "project_id": "acme-ml", "private_key_id": "0123",
                       "private_key": "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
                       "client_email": "sa@acme-ml.iam.gserviceaccount.com"}


def tiny_package(folder: Path, backend: str = "setuptools", files: dict[str, str | bytes] | None = None,
                 **trainer) -> Path:
    """A package holding one module, mod.task, built by ``backend``, with ``files`` (path: content) beside it,
    and a spec running it on the package route (``trainer`` adds fields); returns the spec's path."""
    requires, build_backend, more = BACKENDS[backend]
    (folder / "mod").mkdir(parents=True)
    (folder / "mod" / "__init__.py").write_text('"""A trainer."""\n__version__ = "0.1.0"\n')
    (folder / "mod" / "task.py").write_text("print('trained')\n")
    (folder / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["{requires}"]\nbuild-backend = "{build_backend}"\n\n'
        f'[project]\nname = "mod"\nversion = "0.1.0"\ndescription = "A trainer."\n\n{more}')
    for path, content in (files or {}).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content.encode() if isinstance(content, str) else content)
    return write_spec(folder / "spec.yaml", trainer={"command": ["python", "-m", "mod.task"], "package": ".",
                                                      **trainer})


def build(spec: Path, out: Path):
    return build_package(load_spec(spec), spec.parent, out, PYTHON)


def listing(folder: Path) -> list[tuple[str, int]]:
    """Every entry under ``folder`` (symlinks not followed) with its size."""
    return sorted((os.path.relpath(os.path.join(top, name), folder), os.lstat(os.path.join(top, name)).st_size)
                  for top, dirs, files in os.walk(folder) for name in dirs + files)


def archive_of(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """A source distribution at ``path`` holding ``files`` and ``links`` (path: target) under mod-0.1.0/."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(f"mod-0.1.0/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"mod-0.1.0/{name}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def test_files_reached_through_symlinks_that_leave_the_folder_are_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "deploy.key").write_text("not for the bucket\n")
    spec = tiny_package(tmp_path / "pkg", files={"MANIFEST.in": "include passwd\ngraft keys\n"})
    (spec.parent / "passwd").symlink_to("/etc/passwd")
    (spec.parent / "keys").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PackageError) as raised:
        build(spec, tmp_path / "out")
    message = str(raised.value)
    assert re.search(r"refusing to upload mod-0.1.0.tar.gz: keys/deploy.key: reached through the symlink "
                     r"keys -> \S+/elsewhere, which leaves the package folder \(and 1 more: passwd\); replace the "
                     "symlink with a copy of what it points to, or remove it", message), message
    assert "\n" not in message


def test_a_credential_the_manifest_includes_is_refused(tmp_path):
    spec = tiny_package(tmp_path / "pkg", files={"MANIFEST.in": "include .env\n", ".env": "TOKEN=abc\n"})
    with pytest.raises(PackageError, match=r"^trainer.package '.' \(.*\): refusing to upload mod-0.1.0.tar.gz: "
                                           r"\.env: named like a credential .*; remove it from the folder, or "
                                           r"exclude it from the archive \(MANIFEST.in exclude/prune"):
        build(spec, tmp_path / "out")


@pytest.mark.parametrize("name", ["id_rsa", "keys/id_ed25519.pub", "tls/server.pem", ".netrc", ".env.production",
                                  ".git/config", "gcp/trainer.json"])
def test_files_that_look_like_credentials_are_refused_in_the_archive(tmp_path, name):
    content = json.dumps(SERVICE_ACCOUNT_KEY).encode() if name.endswith(".json") else b"secret\n"
    archive = archive_of(tmp_path / "mod-0.1.0.tar.gz", {"mod/task.py": b"", name: content})
    with pytest.raises(PackageError, match=rf"^pkg: refusing to upload mod-0.1.0.tar.gz: {re.escape(name)}: "):
        check_archive(archive, {}, 50, "pkg")


def test_files_that_only_resemble_credentials_pass(tmp_path):
    files = {"mod/task.py": b"", "environment.yaml": b"", "env/train.py": b"", "docs/id.md": b"",
             "config.json": json.dumps({"key": "private_key"}).encode(), "broken.json": b"{",
             "large.json": json.dumps({"private_key": "x" * 70_000}).encode()}  # too large to be a key file
    names, digest = check_archive(archive_of(tmp_path / "mod-0.1.0.tar.gz", files), {}, 50, "pkg")
    assert names == set(files) and len(digest) == 64


def test_a_symlink_in_the_archive_that_leaves_it_is_refused(tmp_path):
    archive = archive_of(tmp_path / "mod-0.1.0.tar.gz", {"mod/task.py": b""},
                         links={"mod/inside": "task.py", "mod/up": "../../outside", "hosts": "/etc/hosts"})
    with pytest.raises(PackageError, match=r": hosts: reached through the symlink hosts -> /etc/hosts, which leaves "
                                           r"the package folder \(and 1 more: mod/up\);"):
        check_archive(archive, {}, 50, "pkg")


def test_an_archive_over_the_limit_is_refused_unless_the_spec_raises_it(tmp_path):
    spec = tiny_package(tmp_path / "pkg", files={"MANIFEST.in": "include weights.bin\n",
                                                 "weights.bin": os.urandom(1_200_000)}, max_package_mb=1)
    before = listing(spec.parent)
    with pytest.raises(PackageError, match=r"refusing to upload mod-0.1.0.tar.gz: weights.bin: the largest file "
                                           r"\(1.2 MB\) of a 1.2 MB archive, over trainer.max_package_mb \(1 MB\); "
                                           r"exclude large files from the archive .*, or raise "
                                           r"trainer.max_package_mb$"):
        build(spec, tmp_path / "out")
    raised = tiny_package(tmp_path / "raised", files={"MANIFEST.in": "include weights.bin\n",
                                                      "weights.bin": (spec.parent / "weights.bin").read_bytes()},
                          max_package_mb=2)
    package = build(raised, tmp_path / "out")
    with tarfile.open(package.archive) as tar:
        assert "mod-0.1.0/weights.bin" in tar.getnames()
    assert listing(spec.parent) == before  # built from a copy: no mod.egg-info/ left in the folder


def test_the_package_limit_is_50_mb_unless_the_spec_sets_another(tmp_path):
    assert load_spec(tiny_package(tmp_path / "default")).trainer.max_package_mb == 50
    for wrong in (0, 1001, "lots"):
        spec = tiny_package(tmp_path / str(wrong), max_package_mb=wrong)
        with pytest.raises(SpecError, match=r"trainer.max_package_mb: ") as raised:
            load_spec(spec)
        assert "\n" not in str(raised.value)
    archive = archive_of(tmp_path / "mod-0.1.0.tar.gz", {"mod/task.py": os.urandom(1_100_000)})
    with pytest.raises(PackageError, match=r"over trainer.max_package_mb \(1 MB\)"):
        check_archive(archive, {}, 1, "pkg")
    check_archive(archive, {}, load_spec(tmp_path / "default" / "spec.yaml").trainer.max_package_mb, "pkg")


@pytest.mark.parametrize("backend", ["hatchling", "flit_core"])
def test_a_package_whose_backend_is_not_installed_here_builds_isolated(tmp_path, backend):
    """Neither backend is in this environment: the build installs it in an isolated one (from the package
    index), as python -m build --sdist does."""
    package = build(tiny_package(tmp_path / "pkg", backend), tmp_path / "out")
    with tarfile.open(package.archive) as tar:
        assert {"mod-0.1.0/mod/task.py", "mod-0.1.0/pyproject.toml"} <= set(tar.getnames())
    assert package.module == "mod.task"


def test_a_hatchling_package_with_no_manifest_is_refused_its_env_file(tmp_path):
    """hatchling's sdist holds every file git would not ignore: a .env beside the package is in it."""
    spec = tiny_package(tmp_path / "pkg", "hatchling", files={".env": "TOKEN=abc\n"})
    with pytest.raises(PackageError, match=r"refusing to upload mod-0.1.0.tar.gz: \.env: named like a credential"):
        build(spec, tmp_path / "out")


def test_the_dry_run_lists_the_largest_files_and_runs_no_code_of_the_package(tmp_path, bucket, console):
    marker = tmp_path / "setup-ran"
    spec = tiny_package(tmp_path / "pkg", files={
        "big.bin": os.urandom(5000), ".env": "TOKEN=abc\n", **{f"data/part{i:02}.csv": "x" * (100 + 10 * i)
                                                              for i in range(24)}})
    (spec.parent / "pyproject.toml").unlink()
    (spec.parent / "setup.py").write_text(f"open({str(marker)!r}, 'a').write('ran')\nfrom setuptools import setup\n"
                                          "setup(name='mod', version='0.1.0', packages=['mod'])\n")
    before = listing(spec.parent)
    status = tune_with(VertexBackend(today=SERVED), str(spec), outputs=str(no_image_outputs(tmp_path, bucket)),
                       run_id="dry-1", dry_run=True, runs_dir=tmp_path / "runs", console=console)
    out = read(console)
    assert status == 0, out
    assert re.search(rf"would upload the trainer package <name>-<version>.tar.gz \(module mod.task\) to "
                     rf"gs://{bucket}/staging/toy/dry-1/packages/<content hash>/", out), out
    assert ("submitting runs its build backend setuptools.build_meta:__legacy__ (setup.py) in an isolated "
            "environment") in out and "this dry run ran none of the package's code" in out
    assert "the archive holds the files its backend picks from these 30 (" in out
    listed = re.findall(r"^ +([\d.]+) (B|kB) +(\S+)", out, re.M)
    assert len(listed) == 20 and listed[0] == ("5.0", "kB", "big.bin")
    sizes = [float(n) * (1000 if unit == "kB" else 1) for n, unit, _ in listed]
    assert sizes == sorted(sizes, reverse=True)
    assert "  … and 10 more (" in out
    assert "also refused if in the archive (1): .env (named like a credential" in out
    assert not marker.exists()  # setup.py never ran
    assert listing(spec.parent) == before  # no mod.egg-info/, nothing else
    assert not list(storage.gcs_client().list_blobs(bucket))


def test_tune_refuses_a_package_holding_credentials_before_uploading_anything(tmp_path, bucket, console):
    spec = tiny_package(tmp_path / "pkg", files={"MANIFEST.in": "include .env id_rsa passwd\ninclude *.json\n",
                                                 ".env": "TOKEN=abc\n", "id_rsa": "KEY\n",
                                                 "trainer-key.json": json.dumps(SERVICE_ACCOUNT_KEY)})
    (spec.parent / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(PackageError) as caught:
        tune_with(VertexBackend(today=SERVED), str(spec), outputs=str(no_image_outputs(tmp_path, bucket)),
                  run_id="pkg-1", runs_dir=tmp_path / "runs", console=console)
    line = str(caught.value)
    assert re.fullmatch(r"trainer.package '.' \(.*\): refusing to upload mod-0.1.0.tar.gz: \.env: named like a "
                        r"credential .* \(and 3 more: id_rsa, passwd, trainer-key.json\); remove it from the folder, "
                        r"or exclude it from the archive .*", line), line
    assert not list(storage.gcs_client().list_blobs(bucket))
