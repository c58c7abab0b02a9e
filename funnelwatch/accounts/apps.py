from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "funnelwatch.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from funnelwatch.accounts import throttle  # noqa: F401 - connects the lock-out audit
