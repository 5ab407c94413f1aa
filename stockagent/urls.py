from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from apps.core import views as core_views
from apps.core.openapi import CachedSchemaView

urlpatterns = [
    path("", core_views.home, name="home"),
    path("flags/<slug:key>/toggle", core_views.flag_toggle, name="flag-toggle"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", core_views.set_language_public, name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", CachedSchemaView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("apps.core.urls")),
    path("api/v1/market/", include("apps.market.urls")),
    path("market/", include("apps.market.page_urls")),
    path("chart/", include("apps.market.chart_urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("telegram/", include("apps.chatops.urls")),
    path("api/v1/notifications/", include("apps.notifications.api_urls")),
    path("conditions/", include("apps.conditions.urls")),
    path("api/v1/", include("apps.conditions.api_urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("api/v1/", include("apps.accounts.api_urls")),
    path("", include("apps.trades.urls")),
    path("api/v1/", include("apps.trades.api_urls")),
    path("risk/", include("apps.risk.urls")),
    path("api/v1/risk/", include("apps.risk.api_urls")),
    path("api/v1/system/", include("apps.risk.system_urls")),
    path("reports/", include("apps.reports.urls")),
    path("api/v1/reports/", include("apps.reports.api_urls")),
    path("signals/", include("apps.strategy.signal_urls")),
    path("scanner/", include("apps.strategy.scanner_urls")),
    path("api/v1/scanner/", include("apps.strategy.scanner_api_urls")),
    path("api/v1/", include("apps.news.api_urls")),
    path("strategy/", include("apps.strategy.urls")),
    path("api/v1/strategy/", include("apps.strategy.api_urls")),
    path("backtests/", include("apps.backtests.urls")),
    path("api/v1/", include("apps.backtests.api_urls")),
]
