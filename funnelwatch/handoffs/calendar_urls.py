from __future__ import annotations

from django.urls import path

from funnelwatch.handoffs import views

app_name = "calendar"
urlpatterns = [
    path("week/", views.week, name="week"),
    path("week/actions/", views.week_action, name="week_action"),
    path("me/", views.me, name="me"),
    path("me/revoke/", views.revoke, name="revoke"),
    path("me/notifications/", views.notifications, name="notifications"),
    path("feed/<str:token>.ics", views.feed, name="feed"),
]
