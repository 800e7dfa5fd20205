"""The operator token: calls that change things (on-demand evaluation, anything else that
mutates the catalog) need it when one is configured (PROSPECTOR_OPERATOR_TOKEN).

    require_operator(context, settings.operator_token, "EvaluateWindow")   # in a servicer method

The token travels as a bearer token: gRPC metadata `authorization: Bearer <token>`
(HTTP: the Authorization header of the same form). With no token configured the
calls stay open, as on a machine of one's own; read-only calls never need it.
"""

from __future__ import annotations

import hmac
from typing import Any

import grpc

AUTHORIZATION = "authorization"


def _secret(token: Any) -> str | None:
    if token is None:
        return None
    value = token.get_secret_value() if hasattr(token, "get_secret_value") else str(token)
    return value or None


def bearer_ok(header: str | None, token: Any) -> bool:
    """Whether an Authorization value carries the token (always true when none is configured)."""
    expected = _secret(token)
    if expected is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def require_operator(context: grpc.ServicerContext, token: Any, what: str) -> None:
    """Abort the call UNAUTHENTICATED unless its metadata carries the operator token."""
    if _secret(token) is None:
        return
    header = next((value for key, value in context.invocation_metadata() if key == AUTHORIZATION), None)
    if not bearer_ok(header if isinstance(header, str) else None, token):
        context.abort(grpc.StatusCode.UNAUTHENTICATED,
                      f"{what} changes the catalog: it needs the operator token, as metadata "
                      f"'{AUTHORIZATION}: Bearer <PROSPECTOR_OPERATOR_TOKEN>'")
