from __future__ import annotations

from django.urls import path

from funnelwatch.clients import views

app_name = "clients"
urlpatterns = [
    path("", views.client_base, name="base"),
    path("recompute/", views.recompute, name="recompute"),
    path("companies/", views.company_list, name="companies"),
    path("companies/<int:pk>/", views.company_detail, name="company"),
    path("companies/<int:pk>/wake/", views.wake_up, name="wake"),
    path("retention/", views.retention, name="retention"),
    path("reasons/", views.reasons, name="reasons"),
]
