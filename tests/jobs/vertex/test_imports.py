"""google-cloud-aiplatform (seconds to import) stays out of `invoke --list` and of the light modules."""

from __future__ import annotations

import subprocess
import sys

from tests.support.helpers import REPO

CHECK = """
import sys
import tasks, jobs.vertex, jobs.cloud.stack, jobs.vertex.cost, jobs.cloud.google
heavy = sorted(m for m in sys.modules if m.startswith(("google.cloud.aiplatform", "vertexai")))
print(",".join(heavy))
"""


def test_task_list_and_light_modules_do_not_import_aiplatform():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
