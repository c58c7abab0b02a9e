"""Signals the CRM sends after its services change something.

``crm_event`` is sent inside the service's transaction with ``kind`` (e.g. "deal_won"),
``deal`` (or None), ``user_ids`` (the managers whose numbers may change) and ``at``.
The metrics app listens to keep its daily rollups current.
"""

from django.dispatch import Signal

crm_event = Signal()
