from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from funnelwatch.alerts.models import LostReview, RuleSettings
from funnelwatch.core.params import validate_day_range


class SnoozeForm(forms.Form):
    until = forms.DateField(
        label=_("until"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_day_range],
    )
    reason = forms.CharField(label=_("reason"), max_length=300)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(label=_("decision"), choices=LostReview.Decision.choices)
    comment = forms.CharField(label=_("comment"), max_length=500, required=False)


class RuleSettingsForm(forms.ModelForm):
    class Meta:
        model = RuleSettings
        fields = [
            "activity_drop_pct",
            "activity_mad_k",
            "activity_min_usual",
            "meeting_proposal_days",
            "hygiene_deals_without_task",
            "hygiene_overdue_tasks",
            "lookback_days",
        ]
