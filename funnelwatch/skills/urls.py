from __future__ import annotations

from django.urls import path

from funnelwatch.skills import views

app_name = "skills"
urlpatterns = [
    path("", views.index, name="index"),
    path("assign/", views.assign, name="assign"),
    path("assignments/<int:pk>/", views.assignment, name="assignment"),
    path("assignments/<int:pk>/grade/", views.grade, name="grade"),
    path("questions/", views.questions, name="questions"),
    path("tests/", views.tests, name="tests"),
    path("mystery/", views.mystery, name="mystery"),
]
