# The pages are tested on the same week of CRM events as the kernel.
from funnelwatch.metrics.tests.conftest import sales, week  # noqa: F401
