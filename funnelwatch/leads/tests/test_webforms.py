from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Contact, Deal
from funnelwatch.leads.models import LeadOrigin, SourceKind, Submission, WebForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def form(world):
    return WebForm.objects.create(name="Site", thank_you_url="https://shop.test/thanks")


def post(client, form, data, **extra):
    return client.post(reverse("lead_form", args=[form.key]), data, **extra)


def post_json(client, form, data, **extra):
    return client.post(
        reverse("lead_form", args=[form.key]),
        json.dumps(data),
        content_type="application/json",
        **extra,
    )


def test_a_form_submission_becomes_a_routed_lead_with_its_origin(client, world, form):
    response = post(
        client,
        form,
        {
            "name": "Bat",
            "phone": "99112233",
            "email": "Bat@Client.test",
            "message": "Need 20 printers",
            "utm_source": "google",
            "utm_campaign": "spring",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "https://shop.test/thanks"
    deal = Deal.objects.get()
    origin = deal.origin
    assert (origin.kind, origin.form, origin.utm_source, origin.utm_campaign) == (
        SourceKind.WEB_FORM,
        form,
        "google",
        "spring",
    )
    # Routing: no rules, so every active manager takes turns; the first is the lowest id.
    assert deal.owner == world.alice
    assert list(deal.contact.phones.values_list("number", flat=True)) == ["+97699112233"]
    assert list(deal.contact.emails.values_list("email", flat=True)) == ["bat@client.test"]
    assert Submission.objects.get().payload["message"] == "Need 20 printers"
    assert AuditEvent.objects.filter(object_type="crm.deal", object_id=str(deal.pk)).exists()


def test_json_answers_json_and_the_same_submission_makes_one_lead(client, world, form):
    data = {"name": "Bat", "phone": "+976 9911 2233", "message": "hi"}
    first = post_json(client, form, data)
    again = post_json(client, form, data)
    assert (first.status_code, first.json()) == (201, {"status": "ok"})
    assert (again.status_code, again.json()) == (200, {"status": "repeat"})
    assert Deal.objects.count() == 1 and Submission.objects.count() == 1


def test_a_known_phone_lands_on_the_known_contact_and_open_deal(client, world, form):
    contact = crm.create_contact(
        actor=world.bob, name="Known", owner=world.bob, phone_numbers=["+97699112233"]
    )
    deal = crm.create_lead(actor=world.bob, title="Open", owner=world.bob, contact=contact)
    response = post_json(client, form, {"name": "Other name", "phone": "99112233"})
    assert response.status_code == 201
    assert Deal.objects.count() == 1 and Contact.objects.count() == 1
    assert Submission.objects.get().deal == deal


def test_a_known_email_without_open_deal_gets_a_new_lead_for_its_owner(client, world, form):
    contact = crm.create_contact(
        actor=world.bob, name="Known", owner=world.bob, emails=["k@c.test"]
    )
    post_json(client, form, {"email": "K@C.test"})
    deal = Deal.objects.get()
    assert (deal.contact, deal.owner) == (contact, world.bob)


def test_validation_errors_name_the_field_and_store_nothing(client, world, form):
    cases = [
        ({"name": "x", "phone": "12"}, "phone"),
        ({"name": "x"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "99112233", "name": "x" * 201}, "name"),
        ({"phone": "99112233", "utm_source": ["a"]}, "utm_source"),
    ]
    for data, field in cases:
        response = post_json(client, form, data)
        assert response.status_code == 400, data
        assert field in response.json()["errors"], (data, response.json())
    response = post(client, form, {"name": "x", "phone": "12"})
    assert response.status_code == 400 and "phone" in response.content.decode()
    bad = client.post(reverse("lead_form", args=[form.key]), "{", content_type="application/json")
    assert bad.status_code == 400 and "body" in bad.json()["errors"]
    assert not Deal.objects.exists() and not Submission.objects.exists()


def test_honeypot_rate_limit_and_allowed_origins(client, world, form, settings):
    assert post(client, form, {"phone": "99112233", "website": "http://spam"}).status_code == 302
    assert not Deal.objects.exists()
    settings.FUNNELWATCH_FORM_RATE_LIMIT = 2
    for i in range(2):
        assert post_json(client, form, {"phone": f"9911223{i}"}).status_code == 201
    over = post_json(client, form, {"phone": "99112239"})
    assert over.status_code == 429 and "form" in over.json()["errors"]
    other = post_json(client, form, {"phone": "99112239"}, REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 201
    form.allowed_origins = "https://shop.test"
    form.save()
    elsewhere = {"REMOTE_ADDR": "198.51.100.7"}
    refused = post_json(
        client, form, {"phone": "99112238"}, HTTP_ORIGIN="https://evil.test", **elsewhere
    )
    assert refused.status_code == 403
    ok = post_json(
        client, form, {"phone": "99112238"}, HTTP_ORIGIN="https://shop.test", **elsewhere
    )
    assert ok.status_code == 201 and ok["Access-Control-Allow-Origin"] == "https://shop.test"
    assert Deal.objects.count() == 4


def test_next_only_to_the_forms_own_sites(client, world, form):
    form.allowed_origins = "https://shop.test"
    form.save()
    far = post(
        client,
        form,
        {"phone": "99112233", "next": "https://evil.test/x"},
        HTTP_ORIGIN="https://shop.test",
    )
    assert far["Location"] == "https://shop.test/thanks"
    near = post(
        client,
        form,
        {"phone": "99112234", "next": "https://shop.test/ok"},
        HTTP_ORIGIN="https://shop.test",
    )
    assert near["Location"] == "https://shop.test/ok"


def test_unknown_or_inactive_form_and_get(client, world, form):
    assert client.post(reverse("lead_form", args=["nope"]), {"phone": "1"}).status_code == 404
    assert client.get(reverse("lead_form", args=[form.key])).status_code == 405
    form.active = False
    form.save()
    assert post(client, form, {"phone": "99112233"}).status_code == 404


def test_referrer_by_username(client, world, form):
    post_json(client, form, {"phone": "99112233", "referrer": "outsider"})
    assert LeadOrigin.objects.get().referrer == world.outsider
    bad = post_json(client, form, {"phone": "99112234", "referrer": "ghost"})
    assert bad.status_code == 400 and "referrer" in bad.json()["errors"]


def test_forms_add_command_prints_id_key_url(world, settings):
    settings.SITE_URL = "https://crm.example.com"
    out = StringIO()
    call_command("forms", "add", "--name", "Landing", "--json", stdout=out)
    data = json.loads(out.getvalue())
    form = WebForm.objects.get()
    assert data == {
        "id": form.pk,
        "key": form.key,
        "url": f"https://crm.example.com/f/{form.key}/",
    }
    assert AuditEvent.objects.filter(object_type="leads.webform", object_id=str(form.pk)).exists()


def test_channels_page_is_the_heads_and_adds_forms(client, world):
    client.force_login(world.alice)
    assert client.get(reverse("leads:channels")).status_code == 403
    client.force_login(world.head)
    response = client.post(reverse("leads:channels"), {"name": "Promo", "allowed_origins": ""})
    assert response.status_code == 302
    form = WebForm.objects.get()
    page = client.get(reverse("leads:channels")).content.decode()
    assert f"/f/{form.key}/" in page and 'name="website"' in page
    event = AuditEvent.objects.get(object_type="leads.webform")
    assert event.actor == world.head
