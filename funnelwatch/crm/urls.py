from django.urls import path

from funnelwatch.crm import views

app_name = "crm"
urlpatterns = [
    path("deals/", views.deal_list, name="deals"),
    path("board/", views.deal_board, name="board"),
    path("deals/new/", views.deal_create, name="deal_create"),
    path("deals/<int:pk>/", views.deal_detail, name="deal"),
    path("deals/<int:pk>/<slug:action>/", views.deal_action, name="deal_action"),
    path("archive/<slug:kind>/<int:pk>/", views.archive_record, name="archive"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("contacts/", views.contact_list, name="contacts"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact"),
]
