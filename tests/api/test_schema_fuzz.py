"""Every API operation, driven by schemathesis from the OpenAPI document, in process.

Generated requests (valid ones, and ones that break the schema on purpose) go to the
WSGI application with a head's token. Two checks hold for each answer:

- ``not_a_server_error``: no 5xx, whatever the input;
- ``status_code_conformance``: every status code an operation gives is one its
  ``response=`` declaration documents.

Nothing is skipped: the PBX webhooks are included too (unsigned, they must answer a
documented 400/403/422 and store nothing). The route token is set to the head's token,
so the PBX routing question is exercised past its own authentication.

The run is bounded for CI (two slow cores, SQLite and PostgreSQL): a few examples per
operation, no shrinking, no deadline, derandomized so a failure reproduces; a failure
prints the request as a curl command.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from funnelwatch.accounts.tokens import issue_token
from funnelwatch.api import api
from funnelwatch.crm import services

# Per operation; FUNNELWATCH_FUZZ_EXAMPLES=500 for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("FUNNELWATCH_FUZZ_EXAMPLES", "12"))

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())

CHECKS = [not_a_server_error, status_code_conformance]


@pytest.fixture
def wsgi_app():
    """The WSGI application, inside the test's transaction: Django closes the database
    connection at the end of a request unless told otherwise (the test client does the
    same), which would end the transaction the test's data lives in."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def head_token(world, settings):
    token = issue_token(world.head, "schema fuzz")
    settings.FUNNELWATCH_ROUTE_TOKEN = token
    # a little of everything for the read operations to find
    deal = services.create_lead(actor=world.alice, title="Printers", owner=world.alice)
    services.move_stage(deal, world.stages["Qualified"], actor=world.alice)
    services.create_lead(actor=world.bob, title="Paper", owner=world.bob, amount=1500)
    return token


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_operation(case, wsgi_app, head_token):
    case.call_and_validate(
        app=wsgi_app,
        headers={"Authorization": f"Bearer {head_token}"},
        checks=CHECKS,
    )
