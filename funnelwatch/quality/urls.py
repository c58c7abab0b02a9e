from __future__ import annotations

from django.urls import path

from funnelwatch.quality import views

app_name = "quality"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("calls/<int:call_id>/", views.call_review, name="call"),
    path("calls/<int:call_id>/audio/", views.audio, name="audio"),
    path("reviews/", views.reviews, name="reviews"),
    path("report/", views.report, name="report"),
    path("library/", views.library, name="library"),
    path("checklists/", views.checklists, name="checklists"),
]
