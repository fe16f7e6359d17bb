"""Collecting a Vertex run's metrics: the seed lesson's one-by-one loop vs the project's collector.

    python -m bench.report [--trials 1000] [--latency-ms 20] [--connect-ms 0] [--repeat 3] [--workers 32]

gcp-storage-emulator serves a run's artifacts (metrics.json, eval_history.csv and model.pt per trial)
from a separate process, its request handler wrapped to wait a fixed latency per request and its
server made threaded, as GCS serves requests concurrently; ``--connect-ms`` adds a wait to each new
connection's first request, as a TLS handshake to GCS would (the emulator speaks plain HTTP), and the
connections each side opens are counted. The lesson (section 8) lists every object under the run's
prefix and downloads each metrics.json in turn; the collector lists the trial folders
(delimiter "/") and fetches the metrics.json files with a bounded thread pool (jobs.cloud.storage). Both
build a DataFrame; the two are checked to hold the same values (not the same trial ids: the lesson
takes the folder above metrics.json, "model" for every trial). All figures are medians from this run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import time
from functools import partial

BUCKET = "bench"
SPEC = {"name": "bench", "metric": {"id": "validation_accuracy", "goal": "maximize"},
        "parameters": {"learning_rate": {"type": "double", "min": 1e-4, "max": 1e-1, "scale": "log"},
                       "patience": {"type": "integer", "min": 5, "max": 20}},
        "trials": {"max": 1000}}


def serve(port: int, latency: multiprocessing.Value, connect: multiprocessing.Value, opened: multiprocessing.Value,
          ready: multiprocessing.Event) -> None:
    """The emulator's handler behind a threaded HTTP server, each request delayed by ``latency`` s and each
    connection's first by ``connect`` s more; ``opened`` counts connections."""
    from http.server import ThreadingHTTPServer

    from gcp_storage_emulator.server import RequestHandler
    from gcp_storage_emulator.storage import Storage

    class MemoryStorage(Storage):
        def _write_config_to_file(self) -> None:
            """Kept in memory only: the emulator would re-serialise every object's metadata on each upload."""

    class SlowHandler(RequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as GCS: the emulator sends Content-Length on every response
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def setup(self) -> None:
            super().setup()
            with opened.get_lock():
                opened.value += 1
            time.sleep(connect.value)

        def parse_request(self) -> bool:
            parsed = super().parse_request()
            if parsed:
                time.sleep(latency.value)
            return parsed

    server = ThreadingHTTPServer(("127.0.0.1", port), partial(SlowHandler, MemoryStorage(use_memory_fs=True)))
    server.request_queue_size = 128
    ready.set()
    server.serve_forever()


def seed_lesson_loop(artifact_dir: str):
    """The seed lesson's ``list_metrics_from_gcs``, as printed there."""
    import pandas as pd
    from google.cloud import storage

    client = storage.Client()
    bucket_name = artifact_dir.replace("gs://", "").split("/")[0]
    prefix = "/".join(artifact_dir.replace("gs://", "").split("/")[1:])
    blobs = client.list_blobs(bucket_name, prefix=prefix)
    records = []
    for blob in blobs:
        if blob.name.endswith("metrics.json"):
            trial_id = blob.name.split("/")[-2]
            data = json.loads(blob.download_as_text())
            data["trial_id"] = trial_id
            records.append(data)
    return pd.DataFrame(records)


def collector(artifact_dir: str, parameters: dict[str, dict], spec, workers: int):
    """The project's path: the tuning job names its trials (and so their folders); fetch every metrics.json at
    once."""
    from jobs.cloud import storage
    from jobs.report.collect import trials_frame
    from jobs.trial.record import TrialRecord

    records = [TrialRecord(t, "SUCCEEDED", known["objective"], known["params"],
                           artifact_dir=storage.join(artifact_dir, t)) for t, known in parameters.items()]
    return trials_frame(records, spec, workers)


def upload_run(artifact_dir: str, trials: int) -> dict[str, dict]:
    """A run's artifacts, three objects per trial; returns what the tuning job would know of each."""
    import random

    from jobs.cloud import storage

    rng = random.Random(0)
    known = {}
    for i in range(1, trials + 1):
        trial_id = str(i)
        params = {"learning_rate": 10 ** rng.uniform(-4, -1), "patience": rng.randint(5, 20)}
        metrics = {"final_val_accuracy": rng.random(), "best_val_loss": rng.random(), "best_epoch": rng.randint(1, 300),
                   **params}
        base = storage.join(artifact_dir, trial_id, "model")
        storage.write_bytes(storage.join(base, "metrics.json"), json.dumps(metrics).encode())
        storage.write_bytes(storage.join(base, "eval_history.csv"),
                            b"epoch,train_loss,val_loss,val_accuracy\n1,0.7,0.7,0.5\n")
        storage.write_bytes(storage.join(base, "model.pt"), b"\0" * 64)
        known[trial_id] = {"objective": metrics["final_val_accuracy"], "params": params}
    return known


def timed(function, *args, repeat: int, opened: multiprocessing.Value):
    """Median seconds, the last results, and the connections opened per run (on average)."""
    results, times = None, []
    with opened.get_lock():
        opened.value = 0
    for _ in range(repeat):
        started = time.perf_counter()
        results = function(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times), results, opened.value / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--connect-ms", type=float, default=0.0,
                        help="added to each new connection's first request (a TLS handshake's round trips)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None,
                        help="collector threads (default jobs.cloud.storage.WORKERS)")
    args = parser.parse_args()

    from jobs.cloud import storage
    from jobs.spec import parse_spec

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    latency, connect, ready = multiprocessing.Value("d", 0.0), multiprocessing.Value("d", 0.0), multiprocessing.Event()
    opened = multiprocessing.Value("l", 0)
    server = multiprocessing.Process(target=serve, args=(port, latency, connect, opened, ready), daemon=True)
    server.start()
    ready.wait(30)
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    storage.gcs_client.cache_clear()
    try:
        storage.gcs_client().create_bucket(BUCKET)
        artifact_dir = f"gs://{BUCKET}/artifacts/bench/bench-20250101-000000/"
        started = time.perf_counter()
        known = upload_run(artifact_dir, args.trials)
        print(f"uploaded {3 * args.trials} objects ({args.trials} trials) in {time.perf_counter() - started:.1f} s")
        latency.value, connect.value = args.latency_ms / 1000, args.connect_ms / 1000
        workers = args.workers or storage.WORKERS
        spec = parse_spec(SPEC, "bench")
        seed_time, seed_frame, seed_opened = timed(seed_lesson_loop, artifact_dir, repeat=args.repeat, opened=opened)
        ours_time, ours_frame, ours_opened = timed(collector, artifact_dir, known, spec, workers, repeat=args.repeat,
                                                   opened=opened)
    finally:
        server.kill()
    # The lesson's trial_id is the folder above metrics.json, which under AIP_MODEL_DIR=<trial>/model/
    # is "model" for every trial: compare the values themselves.
    got = sorted(ours_frame["final_val_accuracy"])
    assert len(got) == args.trials and got == sorted(seed_frame["final_val_accuracy"]), "the two frames disagree"
    print(f"{args.trials} trials, {args.latency_ms:g} ms per request, {args.connect_ms:g} ms more per new connection, "
          f"medians of {args.repeat}; both frames hold the same {len(got)} values")
    per_run = "connections opened a run"
    print(f"seed lesson loop (list all, download one by one)   {seed_time:7.3f} s  {seed_opened:5.1f} {per_run}")
    print(f"collector ({workers} concurrent fetches)           {ours_time:7.3f} s  {ours_opened:5.1f} {per_run}")
    print(f"ratio seed / collector                            {seed_time / ours_time:7.1f}x")


if __name__ == "__main__":
    main()
