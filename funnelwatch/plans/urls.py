from __future__ import annotations

from django.urls import path

from funnelwatch.plans import views

app_name = "plans"
urlpatterns = [
    path("", views.plan_list, name="list"),
    path("new/", views.plan_create, name="create"),
    path("<int:plan_id>/steps/", views.step_add, name="step_add"),
    path("steps/<int:pk>/", views.step_progress, name="step_progress"),
]
