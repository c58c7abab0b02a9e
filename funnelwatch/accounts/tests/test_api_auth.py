"""Who the API lets in: a bearer token (no CSRF), a csrf_client session (with CSRF), nobody else."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from funnelwatch.accounts.tokens import issue_token
from funnelwatch.api import api
from funnelwatch.crm import services
from funnelwatch.crm.models import Deal


@pytest.fixture
def csrf_client():
    """A client that checks CSRF as a real browser request would be checked."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def deal(world):
    return services.create_lead(actor=world.alice, title="Alice's deal", owner=world.alice)


def _post(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def _bearer(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {issue_token(user, 'script')}"}


def test_token_creates_a_deal_without_csrf(csrf_client, world):
    response = _post(
        csrf_client, "/api/crm/deals", {"title": "From a script"}, **_bearer(world.head)
    )
    assert response.status_code == 201, response.content
    assert Deal.objects.filter(title="From a script", owner=world.head).exists()


def test_token_moves_and_loses_a_deal_without_csrf(csrf_client, world, deal):
    auth = _bearer(world.alice)
    stage = world.stages["Qualified"]
    moved = _post(csrf_client, f"/api/crm/deals/{deal.pk}/move", {"stage_id": stage.pk}, **auth)
    assert moved.status_code == 200, moved.content
    assert moved.json()["stage"] == "Qualified"
    lost = _post(
        csrf_client, f"/api/crm/deals/{deal.pk}/lose", {"reason_id": world.lost_reason.pk}, **auth
    )
    assert lost.status_code == 200, lost.content
    deal.refresh_from_db()
    assert deal.status == "lost"


def test_session_write_without_csrf_token_is_refused(csrf_client, world):
    csrf_client.force_login(world.head)
    response = _post(csrf_client, "/api/crm/deals", {"title": "Forged"})
    assert response.status_code == 403
    assert not Deal.objects.filter(title="Forged").exists()


def test_session_write_with_csrf_token_is_accepted(csrf_client, world):
    csrf_client.force_login(world.head)
    csrf_client.get("/crm/deals/new/")  # the page sets the CSRF cookie, as in a browser
    token = csrf_client.cookies["csrftoken"].value
    response = _post(
        csrf_client, "/api/crm/deals", {"title": "From the page"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201, response.content


def test_session_reads_need_no_csrf_token(csrf_client, world, deal):
    csrf_client.force_login(world.alice)
    response = csrf_client.get("/api/crm/deals")
    assert response.status_code == 200
    assert [d["title"] for d in response.json()] == ["Alice's deal"]


def test_token_of_disabled_user_is_refused(csrf_client, world):
    auth = _bearer(world.bob)
    world.bob.is_active = False
    world.bob.save()
    assert csrf_client.get("/api/crm/deals", **auth).status_code == 401
    assert _post(csrf_client, "/api/crm/deals", {"title": "x"}, **auth).status_code == 401


def _operations_behind_auth():
    """Every documented operation that takes a user's token or session."""
    schema = api.get_openapi_schema()
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            schemes = {name for sec in op.get("security", []) for name in sec}
            if "TokenAuth" in schemes:
                yield pytest.param(method, path, id=f"{method.upper()} {path}")


@pytest.mark.parametrize("method,path", list(_operations_behind_auth()))
@pytest.mark.parametrize("credentials", ["none", "wrong token"])
def test_anonymous_gets_401_on_reads_and_writes(
    csrf_client, world, deal, method, path, credentials
):
    url = re.sub(r"\{[^}]+\}", str(deal.pk), path)
    extra = {"HTTP_AUTHORIZATION": "Bearer wrong"} if credentials == "wrong token" else {}
    if method == "get":
        response = csrf_client.get(url, **extra)
    else:
        response = getattr(csrf_client, method)(url, "{}", content_type="application/json", **extra)
    assert response.status_code == 401, (response.status_code, response.content)
    assert Deal.objects.count() == 1
