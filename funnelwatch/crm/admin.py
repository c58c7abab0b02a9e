"""Admin for the catalogues and records.

Notes, proposals, meetings and tasks can be archived here but never deleted; deal state
(stage, status, owner) is read-only because only the services change it, keeping the
history and the audit trail whole.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.crm import models as m


class StageInline(admin.TabularInline):
    model = m.Stage
    extra = 0


@admin.register(m.Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    inlines = [StageInline]


admin.site.register(m.LeadSource)
admin.site.register(m.LostReason, list_display=["name", "revivable"])
admin.site.register(m.JunkReason)


class PhoneInline(admin.TabularInline):
    model = m.ContactPhone
    extra = 0


class EmailInline(admin.TabularInline):
    model = m.ContactEmail
    extra = 0


@admin.register(m.Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "owner"]
    search_fields = ["name", "phones__number", "emails__email"]
    inlines = [PhoneInline, EmailInline]


@admin.register(m.Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "segment", "owner"]
    search_fields = ["name"]


@admin.register(m.Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "stage", "status", "amount", "created_at"]
    list_filter = ["status", "pipeline", "stage", "owner"]
    search_fields = ["title"]
    readonly_fields = [
        "stage",
        "status",
        "owner",
        "closed_at",
        "stage_entered_at",
        "lost_reason",
        "junk_reason",
        "pipeline",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # leads are created through the product, which keeps the history

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.action(description=_("Archive selected records"))
def archive_selected(modeladmin, request, queryset) -> None:
    from funnelwatch.crm.services import archive

    for record in queryset.filter(archived_at__isnull=True):
        archive(record, actor=request.user, at=timezone.now())


class ArchiveOnlyAdmin(admin.ModelAdmin):
    actions = [archive_selected]
    list_filter = ["archived_at"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


for model in (m.Note, m.Proposal, m.Meeting, m.Task):
    admin.site.register(model, ArchiveOnlyAdmin)
