from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from funnelwatch.mail.models import Mailbox, Message


class MailboxForm(forms.ModelForm):
    new_password = forms.CharField(
        label=_("New password"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted; leave empty to keep the current one."),
    )

    class Meta:
        model = Mailbox
        fields = [
            "user",
            "host",
            "port",
            "login",
            "security",
            "folders",
            "is_shared_bcc",
            "is_active",
        ]

    def save(self, commit: bool = True) -> Mailbox:
        box = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            box.set_password(self.cleaned_data["new_password"])
        if commit:
            box.save()
        return box


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = ["__str__", "user", "is_shared_bcc", "is_active", "last_sync_at", "last_error"]
    readonly_fields = ["last_sync_at", "last_success_at", "last_error"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "sent_at",
        "direction",
        "from_addr",
        "subject",
        "owner",
        "deal",
        "deleted_on_server",
        "archived_at",
    ]
    list_filter = ["direction", "deleted_on_server"]
    search_fields = ["subject", "from_addr", "message_id"]
    raw_id_fields = ["owner", "contact", "deal", "proposal", "mailbox", "archived_by"]
    readonly_fields = ["message_id", "thread", "headers", "sent_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
