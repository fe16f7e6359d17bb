"""The Makefile's entry points."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.helpers import REPO


def test_make_test_needs_no_root_where_chromium_is_missing():
    """As a non-root user without chromium, `make browser` (run by `make test`) skips with a note, and the
    browser test is skipped with its reason; as root with apt-get (CI), it installs chromium."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    if os.getuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root to run make as another user")
    with tempfile.TemporaryDirectory() as name:  # a folder the other user can read (pytest's are private)
        tools = Path(name)
        tools.chmod(0o755)
        for tool in ("sh", "id", "make"):
            (tools / tool).symlink_to(shutil.which(tool))
        done = subprocess.run([shutil.which("runuser"), "-u", "nobody", "--", str(tools / "make"), "-C", str(REPO),
                               "browser"], capture_output=True, text=True, env={"PATH": str(tools)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "no chromium and no root apt-get: the report's browser test will be skipped" in done.stdout
