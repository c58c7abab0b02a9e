from django.contrib import admin

from funnelwatch.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "at",
        "actor",
        "source",
        "action",
        "object_type",
        "object_id",
        "object_repr",
    ]
    list_filter = ["action", "source", "object_type"]
    search_fields = ["object_repr", "object_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
