"""The Vertex AI backend: a sweep spec as a HyperparameterTuningJob, submitted, followed and reported.

    outputs.py   the stack's outputs (project, region, data root, trainer account, image by digest)
    request.py   the HyperparameterTuningJob built from a spec, and its REST JSON
    cost.py      an estimate from the dated price table (jobs/prices.yaml)
    errors.py    transient errors retried with backoff; permission and quota errors explained
    client.py    the four JobService calls, through the aiplatform SDK over REST
    records.py   a job's trials as records: parameters decoded, objective, duration, artifacts
    follow.py    live progress of a running job, surviving dropped connections
    commands.py  VertexBackend (jobs/backends.py): plan, submit or re-attach, status, cancel, records

google-cloud-aiplatform (seconds to import) is imported inside functions only, never at module level
of anything ``invoke --list`` loads.
"""
