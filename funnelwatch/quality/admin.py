from django.contrib import admin

from funnelwatch.quality import models


class CriterionInline(admin.TabularInline):
    model = models.Criterion
    extra = 1


@admin.register(models.Checklist)
class ChecklistAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "created_at")
    inlines = [CriterionInline]


@admin.register(models.TrackedPhrase)
class TrackedPhraseAdmin(admin.ModelAdmin):
    list_display = ("label", "phrase", "speaker", "active")
    list_filter = ("active", "speaker")


@admin.register(models.RecordingAnalysis)
class RecordingAnalysisAdmin(admin.ModelAdmin):
    list_display = ("recording", "status", "talk_ratio", "silence_pct", "flagged", "analyzed_at")
    list_filter = ("status", "flagged")
    readonly_fields = [f.name for f in models.RecordingAnalysis._meta.fields]
