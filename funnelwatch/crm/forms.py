from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import visible_users
from funnelwatch.core.params import validate_day_range
from funnelwatch.crm.models import (
    MONEY_DIGITS,
    MONEY_PLACES,
    Channel,
    Company,
    JunkReason,
    LeadSource,
    LostReason,
    Outcome,
    Stage,
    Task,
)
from funnelwatch.lib import phones


def _sellers(user: User):
    return visible_users(user).filter(role__in=[Role.MANAGER, Role.TEAM_LEAD, Role.HEAD])


class LeadForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    contact_name = forms.CharField(label=_("Contact name"), max_length=200, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    company = forms.ModelChoiceField(Company.objects.all(), label=_("Company"), required=False)
    source = forms.ModelChoiceField(LeadSource.objects.all(), label=_("Source"), required=False)
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=0,
        required=False,
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
    )
    owner = forms.ModelChoiceField(User.objects.none(), label=_("Owner"))

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _sellers(user)
        self.fields["owner"].initial = user.pk

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"]
        if not raw:
            return ""
        from django.conf import settings

        try:
            return phones.normalize(raw, settings.FUNNELWATCH_PHONE_REGION)
        except phones.InvalidPhone as exc:
            raise forms.ValidationError(str(exc)) from None


class MoveForm(forms.Form):
    stage = forms.ModelChoiceField(Stage.objects.filter(outcome=Outcome.OPEN), label=_("Stage"))


class WinForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Final amount"),
        min_value=0,
        required=False,
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
    )
    cost = forms.DecimalField(
        label=_("Cost"),
        min_value=0,
        required=False,
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
    )


class LoseForm(forms.Form):
    reason = forms.ModelChoiceField(LostReason.objects.all(), label=_("Why was it lost?"))
    comment = forms.CharField(label=_("Comment"), max_length=500, required=False)


class JunkForm(forms.Form):
    reason = forms.ModelChoiceField(JunkReason.objects.all(), label=_("Why is it junk?"))
    comment = forms.CharField(label=_("Comment"), max_length=500, required=False)


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(User.objects.none(), label=_("New owner"))

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _sellers(user)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}))


class ProposalForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=0,
        required=False,
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    comment = forms.CharField(label=_("Comment"), max_length=500, required=False)


class MeetingForm(forms.Form):
    scheduled_at = forms.DateTimeField(
        label=_("When"),
        validators=[validate_day_range],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    place = forms.CharField(label=_("Place"), max_length=200, required=False)


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Task.Kind.choices)
    due_at = forms.DateTimeField(
        label=_("Due"),
        validators=[validate_day_range],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    assignee = forms.ModelChoiceField(User.objects.none(), label=_("Assignee"))

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _sellers(user)
        self.fields["assignee"].initial = user.pk
