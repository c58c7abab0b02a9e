from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from funnelwatch.ops.models import RecordingRetention

MONTHS = _("Enter a number of months from 1 to 240, or leave it empty.")


class RetentionForm(forms.ModelForm):
    months = forms.IntegerField(
        label=_("keep recordings for (months)"),
        help_text=_("Empty: keep recordings for ever."),
        required=False,
        min_value=1,
        max_value=240,
        error_messages={"invalid": MONTHS, "min_value": MONTHS, "max_value": MONTHS},
    )

    class Meta:
        model = RecordingRetention
        fields = ["months"]
