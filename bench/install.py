"""What a new user waits for: a fresh clone's ``make sweep`` and ``make test``, split into install and run.

    python3 bench/install.py [--source .] [--skip-test] [--keep]

Clones ``--source`` (its committed HEAD) twice into a temporary folder, with ../shared beside it when this
repository has one (as CI has), and runs each of the README's two commands in its own fresh clone, as a new
machine would, timing each output line as it arrives: ``make sweep`` until its first trial result and to its
end, its install (everything before the sweep starts) and the size of the environment it made; ``make test``,
whose install is what comes before ruff. Package caches (pip's, uv's) are left as they are.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRIAL_RESULT = re.compile(r"^trial \S+ [A-Z]+")  # the progress line of a finished trial (jobs/console/progress.py)


def timed(command: list[str], cwd: Path, marks: dict[str, re.Pattern[str]]) -> dict[str, float]:
    """Run ``command``, echoing its output; seconds from the start to the first line matching each mark, and
    to the end (``end``), and its exit status (``status``)."""
    started, seen = time.perf_counter(), {}
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in process.stdout:
        now = time.perf_counter() - started
        print(f"{now:7.1f}s | {line.rstrip()}", flush=True)
        for name, pattern in marks.items():
            if name not in seen and pattern.search(line):
                seen[name] = now
    status = process.wait()
    return {**seen, "end": time.perf_counter() - started, "status": status}


def fresh_clone(source: str, where: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", source, str(where)], check=True)
    head = subprocess.run(["git", "-C", str(where), "log", "--oneline", "-1"], capture_output=True, text=True)
    print(f"{source} at {head.stdout.strip()}, cloned into {where}", flush=True)
    return where


def size_gb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink()) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(REPO), help="the repository to clone (default: this one)")
    parser.add_argument("--skip-test", action="store_true", help="time make sweep only")
    parser.add_argument("--skip-sweep", action="store_true", help="time make test only")
    parser.add_argument("--keep", action="store_true", help="keep the clone and print where it is")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-install-"))
    scratch.chmod(0o755)  # as a clone anywhere else: the suite runs `make` there as another user too
    try:
        if (REPO.parent / "shared").exists():
            (scratch / "shared").symlink_to(REPO.parent / "shared")
        rows, statuses = [], []
        if not args.skip_sweep:
            clone = fresh_clone(args.source, scratch / "sweep")
            sweep = timed(["make", "sweep"], clone, {"run": re.compile(r"invoke tune"), "first": TRIAL_RESULT})
            statuses.append(sweep["status"])
            rows += [("make sweep: install", sweep.get("run", sweep["end"])),
                     ("make sweep: first trial result", sweep.get("first", float("nan"))),
                     (f"make sweep: whole (exit {sweep['status']})", sweep["end"]),
                     ("environment (.venv) after sweep, GB", size_gb(clone / ".venv"))]
        if not args.skip_test:
            clone = fresh_clone(args.source, scratch / "test")
            test = timed(["make", "test"], clone, {"run": re.compile(r"ruff check")})
            statuses.append(test["status"])
            rows += [("make test: install", test.get("run", test["end"])),
                     (f"make test: whole (exit {test['status']})", test["end"])]
        print()
        for what, value in rows:
            print(f"{what:<40}{value:8.2f}")
        if any(statuses):
            sys.exit(1)
    finally:
        if args.keep:
            print(f"clone kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
