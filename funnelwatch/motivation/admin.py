from django.contrib import admin

from funnelwatch.motivation.models import Assignment, KpiBonus, Scheme, Statement, Tier


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0


class KpiBonusInline(admin.TabularInline):
    model = KpiBonus
    extra = 0


class AssignmentInline(admin.TabularInline):
    model = Assignment
    extra = 0


@admin.register(Scheme)
class SchemeAdmin(admin.ModelAdmin):
    list_display = ["name", "fixed_amount", "base", "rate_pct", "valid_from", "valid_until"]
    inlines = [TierInline, KpiBonusInline, AssignmentInline]


@admin.register(Statement)
class StatementAdmin(admin.ModelAdmin):
    list_display = ["manager", "month", "scheme_name", "total", "approved_by", "approved_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # approved statements are frozen

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
