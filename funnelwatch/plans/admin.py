from django.contrib import admin

from funnelwatch.plans.models import Plan, PlanStep


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["title", "metric", "target", "manager", "team", "first_day", "last_day"]
    list_filter = ["metric", "team"]


@admin.register(PlanStep)
class PlanStepAdmin(admin.ModelAdmin):
    list_display = ["title", "plan", "owner", "due_date", "progress_pct"]
