from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HandoffsConfig(AppConfig):
    name = "funnelwatch.handoffs"
    label = "handoffs"
    verbose_name = _("Hand-offs and calendar")

    def ready(self) -> None:
        from funnelwatch.alerts.digests import DELIVERY_HOOKS
        from funnelwatch.alerts.models import Kind
        from funnelwatch.alerts.rules import RULES
        from funnelwatch.core import navigation
        from funnelwatch.handoffs.alerts import handoff_overdue
        from funnelwatch.handoffs.notify import digest_channels

        RULES[Kind.HANDOFF_OVERDUE] = handoff_overdue
        if digest_channels not in DELIVERY_HOOKS:
            DELIVERY_HOOKS.append(digest_channels)
        everyone = ("head", "team_lead", "manager", "reviewer", "admin", "department")
        leaders = ("head", "team_lead", "admin")
        navigation.add(_("Weekly meeting"), "calendar:week", 16, leaders)
        navigation.add(_("Hand-offs"), "handoffs:list", 58, everyone)
        navigation.add(_("Hand-off KPIs"), "handoffs:kpis", 59, everyone)
        navigation.add(_("My calendar"), "calendar:me", 95, everyone)
