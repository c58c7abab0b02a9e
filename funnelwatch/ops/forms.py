from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from funnelwatch.ops.models import RecordingRetention


class RetentionForm(forms.ModelForm):
    class Meta:
        model = RecordingRetention
        fields = ["months"]

    def clean_months(self) -> int | None:
        months = self.cleaned_data.get("months")
        if months is not None and not 1 <= months <= 240:
            raise forms.ValidationError(
                _("Enter a number of months from 1 to 240, or leave it empty.")
            )
        return months
