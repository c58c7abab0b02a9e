from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from funnelwatch.alerts.models import LostReview


class SnoozeForm(forms.Form):
    until = forms.DateField(label=_("until"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("reason"), max_length=300)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(label=_("decision"), choices=LostReview.Decision.choices)
    comment = forms.CharField(label=_("comment"), max_length=500, required=False)
