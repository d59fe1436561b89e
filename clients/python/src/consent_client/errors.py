"""The one exception the client raises on purpose: the request itself is wrong, so asking again is no use."""

from __future__ import annotations


class ConsentServiceError(Exception):
    """The service refused the request (a bad key, an unknown purpose, a malformed field): a 4xx other
    than 429. Fix the call or the configuration; a mailing loop stopped by it has sent nothing unasked.
    """

    def __init__(self, message: str, status: int | None = None, problem: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem
