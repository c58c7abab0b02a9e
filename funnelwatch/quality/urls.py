from __future__ import annotations

app_name = "quality"
urlpatterns: list = []
