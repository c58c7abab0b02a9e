from __future__ import annotations

app_name = "telephony"
urlpatterns: list = []
