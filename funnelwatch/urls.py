from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from funnelwatch.api import api
from funnelwatch.core import views as core_views
from funnelwatch.home import views as home_views
from funnelwatch.leads import views as leads_views
from funnelwatch.ops import views as ops_views

urlpatterns = [
    path("", home_views.home, name="home"),
    path("healthz", ops_views.healthz, name="healthz"),
    # Pages name their icon; browsers still ask for this one on pages that do not (admin).
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("crm/", include("funnelwatch.crm.urls")),
    path("metrics/", include("funnelwatch.reports.urls")),
    path("telephony/", include("funnelwatch.telephony.urls")),
    path("mail/", include("funnelwatch.mail.urls")),
    path("quality/", include("funnelwatch.quality.urls")),
    path("alerts/", include("funnelwatch.alerts.urls")),
    path("plans/", include("funnelwatch.plans.urls")),
    path("leads/", include("funnelwatch.leads.urls")),
    # Web forms on the company's sites post here (public, see docs/leads.md).
    path("f/<str:key>/", leads_views.form_submit, name="lead_form"),
    path("clients/", include("funnelwatch.clients.urls")),
    path("motivation/", include("funnelwatch.motivation.urls")),
    path("skills/", include("funnelwatch.skills.urls")),
    path("ops/", include("funnelwatch.ops.urls")),
    path("handoffs/", include("funnelwatch.handoffs.urls")),
    path("calendar/", include("funnelwatch.handoffs.calendar_urls")),
    path("imports/", include("funnelwatch.imports.urls")),
]

# A page's bad query-string value is answered 400 with the parameter named.
handler400 = "funnelwatch.core.views.bad_request"

# Uploaded files (recordings, attachments) are never served by address, not even with
# DEBUG: only the views that check who may see them and write the play or download record.
