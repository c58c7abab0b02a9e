from __future__ import annotations

from django.urls import path

from funnelwatch.mail import views

app_name = "mail"
urlpatterns = [
    path("", views.mailbox_list, name="mailboxes"),
    path("mailboxes/<int:pk>/", views.mailbox_detail, name="mailbox"),
    path("mailboxes/<int:pk>/sync/", views.sync_now, name="sync"),
    path("letters/<int:pk>/", views.message_detail, name="message"),
    path("letters/<int:pk>/archive/", views.archive, name="archive"),
    path("letters/<int:pk>/proposal/", views.mark_proposal, name="mark_proposal"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("deals/<int:deal_pk>/send/", views.send, name="send"),
]
