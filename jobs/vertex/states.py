"""A Vertex AI job's states (JobState), by name, as this backend groups them: the one home of these sets."""

ENDED_BADLY = frozenset({"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})
FINISHED = ENDED_BADLY | {"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"}  # the job will not change again
UNDERWAY = frozenset({"JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_CANCELLING",
                      "JOB_STATE_UPDATING", "JOB_STATE_PAUSED"})
