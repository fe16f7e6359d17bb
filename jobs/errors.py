"""The two kinds of error a task shows as one line instead of a traceback."""


class UserError(Exception):
    """Input or state the user can fix (a bad spec, a missing run or output); exit status 2."""


class ServiceError(Exception):
    """A cloud service refused or failed, explained (missing role, quota, outage); exit status 1."""
