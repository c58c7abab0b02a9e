from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from funnelwatch.accounts.models import User
from funnelwatch.core.params import validate_day_range
from funnelwatch.crm.forms import _sellers
from funnelwatch.handoffs.models import Department, Kind, NotificationChoice


class RequestForm(forms.Form):
    department = forms.ModelChoiceField(
        Department.objects.filter(active=True), label=_("Department"), empty_label=_("Department")
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Kind.choices)
    text = forms.CharField(
        label=_("What is needed"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # shown without labels on the deal page
            field.widget.attrs.setdefault("aria-label", str(field.label))
        self.fields["text"].widget.attrs["placeholder"] = str(self.fields["text"].label)


class ReturnForm(forms.Form):
    reason = forms.CharField(label=_("Reason for returning"), max_length=500)


class ActionForm(forms.Form):
    """An action agreed at the weekly meeting: it becomes a task."""

    title = forms.CharField(label=_("Action"), max_length=200)
    assignee = forms.ModelChoiceField(User.objects.none(), label=_("Who"))
    due_at = forms.DateTimeField(
        label=_("Due"),
        validators=[validate_day_range],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _sellers(user)
        self.fields["assignee"].initial = user.pk


class NotificationForm(forms.ModelForm):
    class Meta:
        model = NotificationChoice
        fields = ["by_email", "by_telegram", "telegram_chat_id"]

    def clean_telegram_chat_id(self) -> str:
        value = self.cleaned_data["telegram_chat_id"].strip()
        if value and not re.fullmatch(r"-?\d{1,20}", value):
            raise forms.ValidationError(_("A Telegram chat id is a number."))
        return value

    def clean(self) -> dict:
        data = super().clean()
        if data.get("by_telegram") and not data.get("telegram_chat_id"):
            self.add_error("telegram_chat_id", _("Give the chat id to receive by Telegram."))
        return data
