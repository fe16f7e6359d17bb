"""The two kinds of error a task shows as one line instead of a traceback."""


class UserError(Exception):
    """Input or state the user can fix (a bad spec, a missing run or output); exit status 2."""


class ServiceError(Exception):
    """A cloud service refused or failed, explained (missing role, quota, outage); exit status 1."""


LOGIN = ("run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service "
         "account key file")


def auth_problem(exc: Exception) -> ServiceError | None:
    """Missing or expired Google Cloud credentials, explained; None for any other error. ``google.auth``'s
    RefreshError (an expired or revoked login) is a GoogleAuthError, not a TransportError."""
    from google.auth import exceptions as auth

    if isinstance(exc, auth.DefaultCredentialsError):
        return ServiceError(f"no Google Cloud credentials found: {LOGIN}")
    if isinstance(exc, auth.RefreshError):
        return ServiceError(f"your Google Cloud login has expired or was revoked ({exc.args[0] if exc.args else exc}): "
                            f"{LOGIN}, then run the same command again")
    return None
