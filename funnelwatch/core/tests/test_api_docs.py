"""/api/docs serves Swagger UI from the product's own static files: it was blank wherever
the browser could not reach the CDN django-ninja's page loads it from."""

from __future__ import annotations

import json
import re

from django.contrib.staticfiles import finders


def test_api_docs_load_nothing_from_outside(client, world):
    client.force_login(world.alice)
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    linked = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert "/static/vendor/swagger-ui-bundle-5.36.0.js" in linked
    assert "/static/vendor/swagger-ui-5.36.0.css" in linked
    for url in linked:
        assert url.startswith("/static/"), f"{url}: not the product's own file"
        assert finders.find(url.removeprefix("/static/")), f"{url}: no finder has it"
    assert "//" not in re.sub(r'(?:href|src)="/static/[^"]+"', "", html.split("<body", 1)[1])
    settings = json.loads(re.search(r'id="swagger-settings"[^>]*>(.*?)</script>', html, re.S)[1])
    assert settings["url"] == "/api/openapi.json"
    # Nothing asks validator.swagger.io about the schema.
    assert settings["validatorUrl"] is None
    # No inline script: the page starts Swagger UI from a file.
    assert re.findall(r"<script(?![^>]*(?:src=|application/json))", html) == []


def test_the_vendored_files_carry_their_licence():
    for name in ("vendor/swagger-ui.LICENSE", "vendor/swagger-ui-bundle.js.LICENSE.txt"):
        assert finders.find(name), name


def test_the_api_document_names_no_key_twice(client, world):
    """Swagger UI refuses a document with a key twice in one object (a response code
    written once as 200 and once as "200" was): /api/docs then shows no operation."""
    client.force_login(world.alice)
    twice = []

    def pairs(items: list) -> dict:
        keys = [k for k, _v in items]
        twice.extend(k for k in set(keys) if keys.count(k) > 1)
        return dict(items)

    json.loads(client.get("/api/openapi.json").content, object_pairs_hook=pairs)
    assert twice == []
