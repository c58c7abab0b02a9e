from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from funnelwatch.accounts.models import Role, Team, User
from funnelwatch.plans.models import Plan


def metric_choices() -> list[tuple[str, str]]:
    from funnelwatch.metrics import registry

    # A plan adds up over days, so only summed metrics can carry one.
    return [(m.key, str(m.label)) for m in registry.all_metrics() if m.kind == "sum"]


class PlanForm(forms.ModelForm):
    metric = forms.ChoiceField(label=_("Measured by"), choices=())

    class Meta:
        model = Plan
        fields = [
            "title",
            "metric",
            "target",
            "manager",
            "team",
            "first_day",
            "last_day",
            "relevance",
            "achievable_note",
        ]
        widgets = {
            "first_day": forms.DateInput(attrs={"type": "date"}),
            "last_day": forms.DateInput(attrs={"type": "date"}),
            "relevance": forms.Textarea(attrs={"rows": 2}),
            "achievable_note": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["metric"].choices = metric_choices()
        managers = User.objects.filter(is_active=True, role__in=[Role.MANAGER, Role.TEAM_LEAD])
        teams = Team.objects.all()
        if not user.is_head:
            # A team lead plans for the people and teams they lead, not for other teams.
            from funnelwatch.accounts.visibility import visible_user_ids

            ids = visible_user_ids(user) or set()
            managers = managers.filter(pk__in=ids)
            teams = teams.filter(lead=user)
        self.fields["manager"].queryset = managers
        self.fields["team"].queryset = teams

    def clean(self) -> dict:
        data = super().clean()
        if data.get("manager") and data.get("team"):
            self.add_error("team", _("A plan is for one manager, one team, or the department."))
        elif not self.user.is_head and not data.get("manager") and not data.get("team"):
            self.add_error("team", _("Only the head of sales sets plans for the whole department."))
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            self.add_error("last_day", _("The plan ends before it starts."))
        if data.get("target") is not None and data["target"] <= 0:
            self.add_error("target", _("The target must be above zero."))
        return data
