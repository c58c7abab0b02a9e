from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from funnelwatch.accounts.models import Absence, ApiToken, Extension, Holiday, Team, User, UserEmail


class ExtensionInline(admin.TabularInline):
    model = Extension
    extra = 0


class UserEmailInline(admin.TabularInline):
    model = UserEmail
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (_("Sales department"), {"fields": ["role", "team"]}),
    ]
    inlines = [ExtensionInline, UserEmailInline]


admin.site.register(Team)
admin.site.register(Absence, list_display=["user", "start", "end", "reason"])
admin.site.register(Holiday, list_display=["day", "name"])
admin.site.register(
    ApiToken,
    list_display=["user", "name", "created_at", "last_used_at"],
    readonly_fields=["digest"],
)
