from __future__ import annotations

app_name = "mail"
urlpatterns: list = []
