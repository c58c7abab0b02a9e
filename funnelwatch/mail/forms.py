from __future__ import annotations

from django import forms
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _


class SendForm(forms.Form):
    to = forms.CharField(
        label=_("To"), max_length=1000, help_text=_("Several addresses separated by commas.")
    )
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 6}))
    attachment = forms.FileField(label=_("Attachment"), required=False)
    as_proposal = forms.BooleanField(label=_("This is the commercial proposal"), required=False)

    def clean_subject(self) -> str:
        subject = self.cleaned_data["subject"]
        if "\r" in subject or "\n" in subject:
            raise forms.ValidationError(_("The subject must be one line."))
        return subject

    def clean_to(self) -> list[str]:
        addrs = [a.strip() for a in self.cleaned_data["to"].replace(";", ",").split(",")]
        addrs = [a for a in addrs if a]
        for addr in addrs:
            try:
                validate_email(addr)
            except forms.ValidationError:
                raise forms.ValidationError(
                    _("%(addr)s is not an e-mail address."), params={"addr": addr}
                ) from None
        if not addrs:
            raise forms.ValidationError(_("Name at least one recipient."))
        return addrs
