from django.contrib import admin

from funnelwatch.telephony.models import Call, CallLeg, Recording, RoutingRule, WebhookEvent


class LegInline(admin.TabularInline):
    model = CallLeg
    extra = 0
    can_delete = False
    readonly_fields = [
        "leg_id",
        "channel",
        "dstchannel",
        "disposition",
        "billsec",
        "answered",
        "raw",
    ]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "provider",
        "direction",
        "from_number",
        "to_number",
        "manager",
        "outcome",
        "talk_seconds",
    ]
    list_filter = ["provider", "direction", "outcome"]
    search_fields = ["external_id", "from_number", "to_number", "client_number"]
    raw_id_fields = ["manager", "contact", "deal", "callback", "archived_by"]
    inlines = [LegInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ["call", "status", "content_type", "duration_s", "attempts", "created_at"]
    list_filter = ["status"]
    raw_id_fields = ["call"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "provider", "event_key", "processed_at", "error"]
    list_filter = ["provider"]
    search_fields = ["event_key", "error"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["user", "active", "weight", "daily_cap", "start_hour", "end_hour"]
