from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from funnelwatch.api import api
from funnelwatch.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    # Pages name their icon; browsers still ask for this one on pages that do not (admin).
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("crm/", include("funnelwatch.crm.urls")),
    path("metrics/", include("funnelwatch.metrics.urls")),
    path("telephony/", include("funnelwatch.telephony.urls")),
    path("mail/", include("funnelwatch.mail.urls")),
    path("quality/", include("funnelwatch.quality.urls")),
    path("alerts/", include("funnelwatch.alerts.urls")),
    path("plans/", include("funnelwatch.plans.urls")),
]

# A page's bad query-string value is answered 400 with the parameter named.
handler400 = "funnelwatch.core.views.bad_request"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
