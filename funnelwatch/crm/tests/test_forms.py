from __future__ import annotations

from django.urls import reverse

from funnelwatch.crm.models import Contact, ContactPhone, Deal


def test_create_lead_through_the_form(client, world):
    client.force_login(world.alice)
    response = client.post(
        reverse("crm:deal_create"),
        {
            "title": "Laptops",
            "contact_name": "Dorj",
            "phone": "8811 2233",
            "email": "d@x.mn",
            "amount": "5000000",
            "owner": world.alice.pk,
        },
    )
    deal = Deal.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "crm:deal", args=[deal.pk]
    )
    assert ContactPhone.objects.get().number == "+97688112233"


def test_bad_phone_names_the_field_and_writes_nothing(client, world):
    client.force_login(world.alice)
    response = client.post(
        reverse("crm:deal_create"),
        {
            "title": "Laptops",
            "contact_name": "Dorj",
            "phone": "call me maybe",
            "owner": world.alice.pk,
        },
    )
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors
    assert not Deal.objects.exists() and not Contact.objects.exists()


def test_cannot_assign_to_someone_you_cannot_see(client, world):
    client.force_login(world.alice)
    response = client.post(reverse("crm:deal_create"), {"title": "X", "owner": world.bob.pk})
    assert "owner" in response.context["form"].errors
    assert not Deal.objects.exists()


def test_lose_without_reason_is_refused_with_message(client, world):
    from funnelwatch.crm import services

    deal = services.create_lead(actor=world.alice, title="X", owner=world.alice)
    client.force_login(world.alice)
    response = client.post(
        reverse("crm:deal_action", args=[deal.pk, "lose"]), {"reason": ""}, follow=True
    )
    deal.refresh_from_db()
    assert deal.status == "open"
    assert any("lost" in str(m).lower() for m in response.context["messages"])
