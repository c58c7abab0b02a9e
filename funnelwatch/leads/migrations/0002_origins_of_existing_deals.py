"""Every deal made before the leads app gets its origin, from its CRM source: "Phone call"
(the telephony import's, in any language) and "Inbound call" are calls, a source naming
an import is an import, the rest manual. Written in slices of 5,000 deals, each in its own
transaction; a deal that has an origin already is skipped, so it can be run again."""

from django.conf import settings
from django.db import migrations, transaction
from django.utils import translation

from funnelwatch.lib.batches import in_batches


def _call_names() -> set[str]:
    names = {"inbound call"}
    for lang, _name in settings.LANGUAGES:
        with translation.override(lang):
            names.add(translation.gettext("Phone call").lower())
    return names


def kind_of(source: str | None, calls: set[str]) -> str:
    name = (source or "").strip().lower()
    if name in calls:
        return "call"
    if "import" in name or "импорт" in name:
        return "import"
    return "manual"


def forwards(apps, schema_editor):  # noqa: ANN001, ANN201
    Deal = apps.get_model("crm", "Deal")
    LeadOrigin = apps.get_model("leads", "LeadOrigin")
    calls = _call_names()
    for window in in_batches(Deal.objects.filter(origin__isnull=True)):
        with transaction.atomic():
            rows = [
                LeadOrigin(
                    deal_id=pk, kind=kind_of(source, calls), created_at=created_at
                )
                for pk, source, created_at in window.values_list("pk", "source__name", "created_at")
            ]
            LeadOrigin.objects.bulk_create(rows, ignore_conflicts=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("leads", "0001_initial"),
        ("crm", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
