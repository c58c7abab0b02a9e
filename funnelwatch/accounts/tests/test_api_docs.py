"""The API's documentation lists every operation and webhook: signed-in users only,
unless the installation opens it."""

from __future__ import annotations

import pytest

from funnelwatch.accounts.tokens import issue_token

pytestmark = pytest.mark.django_db


def test_docs_need_a_login_or_a_token(client, world):
    docs = client.get("/api/docs")
    assert docs.status_code == 302 and docs.url.startswith("/login/?next=/api/docs")
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 401 and "paths" not in schema.json()
    bad = client.get("/api/openapi.json", HTTP_AUTHORIZATION="Bearer fw_wrong")
    assert bad.status_code == 401

    token = issue_token(world.bob, "generator")
    by_token = client.get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert by_token.status_code == 200 and "/api/crm/deals" in by_token.json()["paths"]

    client.force_login(world.bob)
    assert client.get("/api/docs").status_code == 200
    assert "/api/crm/deals" in client.get("/api/openapi.json").json()["paths"]


def test_docs_can_be_opened_to_everyone(client, world, settings):
    settings.FUNNELWATCH_PUBLIC_API_DOCS = True
    assert client.get("/api/docs").status_code == 200
    assert client.get("/api/openapi.json").status_code == 200
