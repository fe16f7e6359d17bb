"""The Vertex AI backend: a sweep spec as a HyperparameterTuningJob, submitted, followed and reported.

    backend.py     VertexBackend (jobs/backends.py): check, plan, submit or re-attach, status, cancel, records
    resources.py   the spec's vertex: section, checked against the tables below when this backend runs
    request.py     the HyperparameterTuningJob built from a spec, and its REST JSON
    routes.py      which route a trial takes: the stack's trainer image, or a package on a prebuilt container
    machines.py    Vertex AI's machine and GPU table; containers.py, its prebuilt training containers;
    lifecycle.py   their end dates compared with today
    cost.py        an estimate from the dated price table (prices.yaml)
    client.py      the four JobService calls, through the aiplatform SDK over REST
    records.py     a job's trials as records: parameters decoded, objective, duration, artifacts
    follow.py      live progress of a running job, surviving dropped connections; states.py, the job's states
    registry.py    keeping a run's trainer image in Artifact Registry

google-cloud-aiplatform (seconds to import) is imported inside functions only, never at module level
of anything ``invoke --list`` loads.
"""
