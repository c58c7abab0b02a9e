from __future__ import annotations

from django.urls import path

from funnelwatch.motivation import views

app_name = "motivation"
urlpatterns = [
    path("", views.statements, name="statements"),
    path("<int:manager_id>/<str:month>/", views.statement, name="statement"),
    path("<int:manager_id>/<str:month>/approve/", views.approve, name="approve"),
    path("export/", views.export, name="export"),
    path("schemes/", views.schemes, name="schemes"),
    path("board/", views.board, name="board"),
]
