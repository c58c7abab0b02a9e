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

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["metric"].choices = metric_choices()
        self.fields["manager"].queryset = User.objects.filter(
            is_active=True, role__in=[Role.MANAGER, Role.TEAM_LEAD]
        )
        self.fields["team"].queryset = Team.objects.all()

    def clean(self) -> dict:
        data = super().clean()
        if data.get("manager") and data.get("team"):
            self.add_error("team", _("A plan is for one manager, one team, or the department."))
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            self.add_error("last_day", _("The plan ends before it starts."))
        if data.get("target") is not None and data["target"] <= 0:
            self.add_error("target", _("The target must be above zero."))
        return data
