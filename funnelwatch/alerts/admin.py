from django.contrib import admin

from funnelwatch.alerts.models import Alert, DealSnooze, DigestCopy, LostReview, RuleSettings


@admin.register(RuleSettings)
class RuleSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "activity_drop_pct",
        "activity_mad_k",
        "meeting_proposal_days",
        "hygiene_deals_without_task",
        "hygiene_overdue_tasks",
    ]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["kind", "manager", "status", "opened_at", "resolved_at", "message"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in Alert._meta.fields]


admin.site.register(DealSnooze)
admin.site.register(LostReview)


@admin.register(DigestCopy)
class DigestCopyAdmin(admin.ModelAdmin):
    list_display = ["kind", "day", "recipient", "sent_at", "error"]
    list_filter = ["kind"]
