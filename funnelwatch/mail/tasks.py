"""Background jobs of the mail app (run by the django-tasks worker)."""

from __future__ import annotations

from django_tasks import task


@task()
def sync_mailbox_task(mailbox_id: int) -> dict:
    from funnelwatch.mail.models import Mailbox
    from funnelwatch.mail.sync import sync_mailbox

    mailbox = Mailbox.objects.filter(pk=mailbox_id, is_active=True).first()
    if mailbox is None:
        return {"mailbox": mailbox_id, "skipped": True}
    return sync_mailbox(mailbox).as_dict()
