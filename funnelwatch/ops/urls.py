from django.urls import path

from funnelwatch.ops import views

app_name = "ops"
urlpatterns = [
    path("status/", views.status, name="status"),
    path("status/retention/", views.retention, name="retention"),
    path("metrics", views.metrics, name="metrics"),
]
