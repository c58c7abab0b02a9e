from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HomeConfig(AppConfig):
    """The page everyone starts the day on: what needs attention, each manager's numbers
        that changed, yesterday, and today's meetings, tasks and callbacks. It is the product's
    address ("/", the brand in the header links it), so it needs no menu item."""

    name = "funnelwatch.home"
    label = "home"
    verbose_name = _("Home")
