"""Every few minutes, queue a sync of each active mailbox for the worker."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from funnelwatch.core.periodic import periodic


@periodic("mail.sync", every=dt.timedelta(minutes=settings.FUNNELWATCH_MAIL_SYNC_MINUTES))
def queue_mail_sync(now: dt.datetime) -> str:
    from funnelwatch.mail.models import Mailbox
    from funnelwatch.mail.tasks import sync_mailbox_task

    ids = list(Mailbox.objects.filter(is_active=True).values_list("pk", flat=True))
    for pk in ids:
        sync_mailbox_task.enqueue(pk)
    return f"queued {len(ids)} mailboxes"
