"""The optimiser's errors (subclasses of the project's PostalError family)."""

from __future__ import annotations

from postal.errors import PostalError, ValidationFailed


class MalformedInstance(ValidationFailed):
    """A benchmark or VROOM-format file cannot be read; the detail names the file and line."""

    default_code = "malformed_instance"


class InvalidProblem(ValidationFailed):
    """A problem refers to unknown depots, desks or locations, or its pairs are inconsistent."""

    default_code = "invalid_problem"


class SolverFailure(PostalError):
    """An engine returned a plan that the independent checker rejects (a bug, HTTP 500)."""

    status = 500
    default_code = "solver_failure"
