from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "funnelwatch.metrics"
    label = "metrics"
    verbose_name = _("Metrics")

    def ready(self) -> None:
        # Each app defines its metrics in <app>/metrics.py (and tells the kernel what
        # changed through ``funnelwatch.metrics.changed``; the kernel listens to no app).
        autodiscover_modules("metrics")
