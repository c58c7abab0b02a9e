"""What the API answers when it refuses, for the ``response=`` declarations.

Every operation lists the refusals it can give, so the OpenAPI document is complete
(clients and the schema-driven tests rely on it): 400 for a body that is not JSON, 401
without a valid token or session, 403 for a role that may not, 404 for a record the
caller cannot see, 422 for a parameter or body that fails validation (each problem with
its ``loc``, e.g. ``["query", "limit"]``), 400 and 403 from the PBX webhooks' own checks.
"""

from __future__ import annotations

from typing import Any

from ninja import Schema


class ErrorOut(Schema):
    """``{"detail": "why"}``; for 422 a list with one entry per field at fault."""

    detail: str | list[dict[str, Any]]


def errors(*codes: int) -> dict[int, type[ErrorOut]]:
    return {code: ErrorOut for code in codes}
