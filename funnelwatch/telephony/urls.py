from django.urls import path
from django.views.generic import RedirectView

from funnelwatch.telephony import views

app_name = "telephony"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="telephony:calls"), name="index"),
    path("calls/", views.call_list, name="calls"),
    path("calls/<int:pk>/", views.call_detail, name="call"),
    path("calls/<int:pk>/recording/", views.recording_play, name="recording"),
    path("calls/<int:pk>/recording/download/", views.recording_download, name="recording_download"),
    path("missed/", views.missed_list, name="missed"),
    path("routing/", views.routing_settings, name="routing"),
    path("routing/save/", views.routing_save, name="routing_save"),
    path("integrations/", views.integrations, name="integrations"),
]
