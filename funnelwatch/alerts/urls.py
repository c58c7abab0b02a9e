from __future__ import annotations

from django.urls import path

from funnelwatch.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("snooze/<int:deal_id>/", views.snooze, name="snooze"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("morning/", views.morning, name="morning"),
    path("lost/", views.lost_review, name="lost"),
    path("lost/<int:deal_id>/review/", views.review, name="review"),
    path("forecast/", views.forecast, name="forecast"),
    path("digests/", views.digest_list, name="digests"),
    path("digests/<int:pk>/", views.digest_detail, name="digest"),
    path("thresholds/", views.thresholds, name="thresholds"),
]
