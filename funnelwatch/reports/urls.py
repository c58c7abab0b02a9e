from __future__ import annotations

from django.urls import path

from funnelwatch.reports import views

app_name = "metrics"
urlpatterns = [
    path("", views.key_numbers, name="key_numbers"),
    path("records/<slug:key>/", views.records, name="records"),
    path("managers/<int:pk>/", views.manager, name="manager"),
    path("funnel/", views.funnel, name="funnel"),
    path("sales/", views.sales, name="sales"),
]
