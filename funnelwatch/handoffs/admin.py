from django.contrib import admin

from funnelwatch.handoffs.models import ClickToCall, Department, Handoff, NotificationChoice


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "head", "sla_minutes", "active"]
    filter_horizontal = ["members"]


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    """Read-only: requests change only through their steps (``services``), each audited."""

    list_display = ["deal", "department", "kind", "state", "requester", "assignee", "due_at"]
    list_filter = ["state", "department", "kind"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(NotificationChoice)
class NotificationChoiceAdmin(admin.ModelAdmin):
    list_display = ["user", "by_email", "by_telegram", "telegram_chat_id"]


@admin.register(ClickToCall)
class ClickToCallAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "extension", "number", "status", "error"]
    list_filter = ["status"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
