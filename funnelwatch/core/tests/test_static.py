"""The product's own CSS and vendored scripts are found by the static-files finders, so
collectstatic copies them and the pages are styled (they were not: the folder was
outside every finder's search)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import RequestFactory


def test_every_static_file_the_base_template_links_is_found():
    request = RequestFactory().get("/")
    html = render_to_string("base.html", request=request)
    linked = re.findall(r'(?:href|src)="/static/([^"]+)"', html)
    assert "funnelwatch/app.css" in linked
    for name in linked:
        assert finders.find(name), f"{name} is linked by base.html but no finder has it"


@pytest.mark.parametrize(
    "name",
    ["funnelwatch/app.css", "vendor/htmx-2.0.11.min.js", "vendor/chart-4.6.1.umd.min.js"],
)
def test_collectstatic_copies_the_products_files(tmp_path: Path, settings, name):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / name).is_file()


def test_static_folder_is_the_packages_own():
    assert Path(settings.BASE_DIR / "static") in [Path(p) for p in settings.STATICFILES_DIRS]
