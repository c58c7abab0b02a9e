from __future__ import annotations

from django.urls import path

from funnelwatch.leads import views

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("channels/", views.channels, name="channels"),
    path("channels/telegram/", views.bot_add, name="bot_add"),
    path("referrers/", views.referrers, name="referrers"),
    path("referrers/<int:pk>/", views.referrer, name="referrer"),
    path("deals/<int:pk>/reply/", views.reply, name="reply"),
    path("deals/<int:pk>/referrer/", views.set_referrer, name="set_referrer"),
    path("hooks/telegram/<int:pk>/", views.telegram_hook, name="telegram_hook"),
    path("hooks/whatsapp/", views.whatsapp_hook, name="whatsapp_hook"),
]
