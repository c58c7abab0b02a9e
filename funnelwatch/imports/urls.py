from django.urls import path

from funnelwatch.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.index, name="index"),
    path("upload/", views.upload, name="upload"),
    path("<int:pk>/", views.batch_detail, name="batch"),
    path("<int:pk>/run/", views.run, name="run"),
    path("<int:pk>/progress/", views.progress, name="progress"),
    path("<int:pk>/rejected.csv", views.rejected, name="rejected"),
    path("<int:pk>/undo/", views.undo, name="undo"),
]
