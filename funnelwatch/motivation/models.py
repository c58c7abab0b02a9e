"""Commission schemes as data, and the payout statements the head approved.

A scheme says what a manager earns in a month: a fixed part, a percentage of the won
amount or of the gross profit of the deals won in the month (the rate set by tiers of
plan fulfilment), a fee for each qualified deal the manager passed to a colleague, and
bonuses for KPI targets read from the metrics engine. Schemes are assigned to managers
or teams for a span of dates. A month's statement is computed from the records until
the head approves it; the approved one is stored, line by line, and never recomputed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited

USER = settings.AUTH_USER_MODEL


def _money(verbose: str, **kwargs) -> models.DecimalField:
    # 15 digits, as money in crm.models: SQLite keeps 15 significant digits.
    return models.DecimalField(verbose, max_digits=15, decimal_places=2, **kwargs)


def _pct(verbose: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(verbose, max_digits=7, decimal_places=3, **kwargs)


class Base(models.TextChoices):
    NONE = "none", _("no commission")
    AMOUNT = "amount", _("won amount")
    GROSS_PROFIT = "gross_profit", _("gross profit")


@audited()
class Scheme(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    fixed_amount = _money(_("fixed part a month"), default=0)
    base = models.CharField(
        _("commission on"), max_length=20, choices=Base.choices, default=Base.AMOUNT
    )
    rate_pct = _pct(_("commission, %"), default=0)
    # Gross profit is the deal's amount less its cost; a department that keeps no costs
    # on its deals sets a margin here, and the gross profit is that share of the amount.
    margin_pct = _pct(_("margin for gross profit, %"), null=True, blank=True)
    referral_fee = _money(_("fee per qualified deal passed"), default=0)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until (inclusive)"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("commission scheme")
        verbose_name_plural = _("commission schemes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("valid_from")),
                name="scheme_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=models.Q(fixed_amount__gte=0, rate_pct__gte=0, referral_fee__gte=0),
                name="scheme_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(margin_pct__isnull=True)
                | models.Q(margin_pct__gte=0, margin_pct__lte=100),
                name="scheme_margin_is_a_share",
            ),
        ]

    def __str__(self) -> str:
        return self.name


@audited()
class Tier(models.Model):
    """From this plan fulfilment up, the commission rate is ``rate_pct`` (instead of the
    scheme's) and the tier's bonus is paid once."""

    scheme = models.ForeignKey(Scheme, on_delete=models.CASCADE, related_name="tiers")
    min_fulfilment_pct = _pct(_("from plan fulfilment, %"))
    rate_pct = _pct(_("commission, %"))
    bonus = _money(_("bonus for reaching it"), default=0)

    class Meta:
        ordering = ["scheme", "min_fulfilment_pct"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "min_fulfilment_pct"], name="uniq_tier_threshold"
            ),
            models.CheckConstraint(
                condition=models.Q(min_fulfilment_pct__gte=0, rate_pct__gte=0, bonus__gte=0),
                name="tier_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"≥{self.min_fulfilment_pct}%: {self.rate_pct}%"


class Comparison(models.TextChoices):
    AT_LEAST = "gte", _("at least")
    AT_MOST = "lte", _("at most")


@audited()
class KpiBonus(models.Model):
    """A bonus paid when a metric of the month reaches its target (``speed_to_first_call``
    at most 15 minutes, ``leads_called_sla_pct`` at least 90)."""

    scheme = models.ForeignKey(Scheme, on_delete=models.CASCADE, related_name="kpi_bonuses")
    metric = models.CharField(_("metric"), max_length=60)
    comparison = models.CharField(
        _("comparison"), max_length=3, choices=Comparison.choices, default=Comparison.AT_LEAST
    )
    target = models.DecimalField(_("target"), max_digits=15, decimal_places=3)
    amount = _money(_("bonus"))

    class Meta:
        ordering = ["scheme", "id"]
        verbose_name = _("KPI bonus")
        verbose_name_plural = _("KPI bonuses")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="kpi_bonus_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.comparison} {self.target}"


@audited()
class Assignment(models.Model):
    """A scheme for a manager or a whole team over a span of dates; a manager's own
    assignment comes before their team's."""

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="assignments")
    manager = models.ForeignKey(
        USER,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scheme_assignments",
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scheme_assignments",
    )
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until (inclusive)"), null=True, blank=True)

    class Meta:
        ordering = ["-valid_from", "id"]
        verbose_name = _("scheme assignment")
        verbose_name_plural = _("scheme assignments")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(manager__isnull=True) & models.Q(team__isnull=False))
                | (models.Q(manager__isnull=False) & models.Q(team__isnull=True)),
                name="assignment_for_manager_or_team",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("valid_from")),
                name="assignment_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scheme} → {self.manager or self.team}"


@audited()
class Statement(models.Model):
    """An approved monthly payout statement: frozen, its lines stored as they were."""

    manager = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="payout_statements")
    month = models.DateField(_("month (first day)"))
    scheme = models.ForeignKey(
        Scheme, null=True, blank=True, on_delete=models.PROTECT, related_name="statements"
    )
    scheme_name = models.CharField(_("scheme"), max_length=200, blank=True)
    total = _money(_("total"))
    approved_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(_("approved"))

    class Meta:
        ordering = ["-month", "manager"]
        verbose_name = _("payout statement")
        verbose_name_plural = _("payout statements")
        constraints = [
            models.UniqueConstraint(fields=["manager", "month"], name="uniq_statement_month"),
        ]
        # "month is its first day" is kept by save(), not by a check: SQLite would need a
        # Django function inside its schema, which plain sqlite3 (backups) cannot read.

    def __str__(self) -> str:
        return f"{self.manager} {self.month:%Y-%m}"

    def save(self, *args, **kwargs) -> None:
        if self.month and self.month.day != 1:
            raise ValueError("a statement's month is its first day")
        super().save(*args, **kwargs)


class StatementLine(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(_("kind"), max_length=20)
    description = models.CharField(_("description"), max_length=500)
    amount = _money(_("amount"))
    # ["deal:12", "plan:3", "metric:leads_called_sla_pct"]: the records behind the line.
    source = models.JSONField(_("source"), default=list)

    class Meta:
        ordering = ["statement", "position"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "position"], name="uniq_statement_line")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"
