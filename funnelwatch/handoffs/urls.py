from __future__ import annotations

from django.urls import path

from funnelwatch.handoffs import views

app_name = "handoffs"
urlpatterns = [
    path("", views.request_list, name="list"),
    path("kpis/", views.kpis, name="kpis"),
    path("<int:pk>/", views.request_detail, name="detail"),
    path("<int:pk>/<str:action>/", views.request_action, name="act"),
    path("deal/<int:deal_pk>/request/", views.request_create, name="create"),
    path("call/<str:kind>/<int:pk>/", views.dial, name="dial"),
]
