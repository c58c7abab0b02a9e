"""Every page for a user allowed to see it and one refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from funnelwatch.quality import services
from funnelwatch.quality.models import Checklist, ExemplaryCall, Review
from funnelwatch.quality.tests.conftest import make_call, wav_bytes


@pytest.fixture
def calls(world, at, tmp_path, checklist, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice = make_call(world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path))
        bob = make_call(world.bob, at(2026, 3, 3, 10), content=wav_bytes(tmp_path))
    services.sample_week(dt.date(2026, 3, 2), per_manager=5, min_duration_s=60)
    c = {x.stage: x for x in checklist.criteria.all()}
    services.save_review(
        alice, checklist, world.reviewer, {c["greeting"].pk: "yes"}, comments=[(12, "Nice opening")]
    )
    services.save_review(bob, checklist, world.reviewer, {c["greeting"].pk: "no"})
    return {"alice": alice, "bob": bob}


def get(client, user, name, *args, **query):
    client.force_login(user)
    return client.get(reverse(name, args=args), query)


def test_queue(client, world, calls, django_assert_num_queries):
    client.force_login(world.reviewer)
    with django_assert_num_queries(4):  # session, user, count, page
        response = client.get(reverse("quality:queue"))
    assert response.status_code == 200
    assert reverse("quality:call", args=[calls["alice"].pk]) in response.content.decode()
    # the North team lead sees North's calls only
    page = get(client, world.lead, "quality:queue").content.decode()
    assert reverse("quality:call", args=[calls["alice"].pk]) in page
    assert reverse("quality:call", args=[calls["bob"].pk]) not in page
    assert get(client, world.alice, "quality:queue").status_code == 403


def test_call_page_for_its_manager_and_a_reviewer(client, world, calls):
    page = get(client, world.alice, "quality:call", calls["alice"].pk)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Nice opening" in html and 'class="bar"' in html and "<audio" in html
    assert 'name="action" value="review"' not in html  # the manager reads, does not score
    assert get(client, world.bob, "quality:call", calls["alice"].pk).status_code == 404
    assert get(client, world.outsider, "quality:call", calls["alice"].pk).status_code == 404
    html = get(client, world.reviewer, "quality:call", calls["alice"].pk).content.decode()
    assert 'name="action" value="review"' in html and "Transcription is off" in html


def test_reviewer_saves_a_review_with_a_pinned_comment(client, world, calls, checklist):
    c = {x.stage: x for x in checklist.criteria.all()}
    client.force_login(world.head)
    url = reverse("quality:call", args=[calls["alice"].pk])
    response = client.post(
        url,
        {
            "action": "review",
            "checklist": checklist.pk,
            f"c_{c['greeting'].pk}": "yes",
            f"c_{c['needs'].pk}": "4",
            f"c_{c['closing'].pk}": "date and time",
            "comment_at": ["1:05", ""],
            "comment_text": ["Named the price", ""],
        },
    )
    assert response.status_code == 302
    review = Review.objects.get(call=calls["alice"], reviewer=world.head)
    assert review.score == 100.0
    assert [(x.at_s, x.text) for x in review.comments.all()] == [(65.0, "Named the price")]
    response = client.post(
        url,
        {"action": "review", "checklist": checklist.pk, "comment_at": "soon", "comment_text": "x"},
    )
    assert response.status_code == 302 and review.comments.count() == 1


def test_a_manager_cannot_post_a_review(client, world, calls, checklist):
    client.force_login(world.alice)
    url = reverse("quality:call", args=[calls["alice"].pk])
    assert client.post(url, {"action": "review", "checklist": checklist.pk}).status_code == 403
    assert client.post(url, {"action": "exemplary", "stages": ["greeting"]}).status_code == 403
    assert not ExemplaryCall.objects.exists()


def test_library(client, world, calls):
    client.force_login(world.reviewer)
    url = reverse("quality:call", args=[calls["alice"].pk])
    assert (
        client.post(
            url,
            {"action": "exemplary", "stages": ["greeting", "closing"], "note": "Textbook close"},
        ).status_code
        == 302
    )
    html = get(client, world.bob, "quality:library").content.decode()
    assert "Textbook close" in html
    html = get(client, world.bob, "quality:library", stage="needs").content.decode()
    assert "Textbook close" not in html
    # bob may hear the library call but not read alice's reviews of it
    page = get(client, world.bob, "quality:call", calls["alice"].pk)
    assert page.status_code == 200 and "Nice opening" not in page.content.decode()
    assert get(client, world.bob, "quality:audio", calls["alice"].pk).status_code == 200
    client.logout()
    assert client.get(reverse("quality:library")).status_code == 302


def test_audio(client, world, calls):
    response = get(client, world.alice, "quality:audio", calls["alice"].pk)
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    assert b"".join(response.streaming_content)[:4] == b"RIFF"
    assert response["Accept-Ranges"] == "bytes"
    url = reverse("quality:audio", args=[calls["alice"].pk])
    part = client.get(url, HTTP_RANGE="bytes=8-15")
    assert part.status_code == 206 and b"".join(part.streaming_content) == b"WAVEfmt "
    assert part["Content-Range"].startswith("bytes 8-15/")
    assert client.get(url, HTTP_RANGE="bytes=99999999-").status_code == 416
    assert get(client, world.bob, "quality:audio", calls["alice"].pk).status_code == 404
    assert get(client, world.head, "quality:audio", calls["bob"].pk).status_code == 200


def test_reviews_list(client, world, calls, django_assert_num_queries):
    client.force_login(world.alice)
    with django_assert_num_queries(4):  # session, user, count, page
        html = client.get(reverse("quality:reviews")).content.decode()
    assert reverse("quality:call", args=[calls["alice"].pk]) in html
    assert reverse("quality:call", args=[calls["bob"].pk]) not in html
    html = get(client, world.outsider, "quality:reviews").content.decode()
    assert "No reviews yet" in html


def test_report(client, world, calls):
    html = get(client, world.head, "quality:report").content.decode()
    assert "Alice" in html and "Bob" in html
    html = get(client, world.lead, "quality:report").content.decode()
    assert "Alice" in html and "Bob" not in html
    assert get(client, world.alice, "quality:report").status_code == 403
    assert get(client, world.reviewer, "quality:report").status_code == 403


def test_checklists(client, world, checklist):
    assert get(client, world.head, "quality:checklists").status_code == 200
    for user in (world.reviewer, world.lead, world.alice):
        assert get(client, user, "quality:checklists").status_code == 403
    client.force_login(world.head)
    response = client.post(
        reverse("quality:checklists"),
        {"name": "Inbound", "criteria": "greeting | 1 | yes_no | Picked up within 3 rings"},
    )
    assert response.status_code == 302
    assert Checklist.objects.get(name="Inbound").criteria.count() == 1
    response = client.post(
        reverse("quality:checklists"), {"name": "Broken", "criteria": "hello | 1 | yes_no | ?"}
    )
    assert response.status_code == 400 and "line 1" in response.content.decode()
    assert not Checklist.objects.filter(name="Broken").exists()
    client.force_login(world.alice)
    assert client.post(reverse("quality:checklists"), {"name": "x"}).status_code == 403


def test_failed_analysis_is_shown_on_the_call(
    client, world, at, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call = make_call(world.alice, at(2026, 3, 2, 10), content=b"")
    html = get(client, world.head, "quality:call", call.pk).content.decode()
    assert "could not be analysed" in html and "empty" in html


def test_api_analysis(client, world, calls):
    client.force_login(world.alice)
    response = client.get(f"/api/quality/calls/{calls['alice'].pk}/analysis")
    assert response.status_code == 200
    data = response.json()
    assert data["call_id"] == calls["alice"].pk and data["switches_per_min"] == 6.0
    assert data["segments"]["manager"][0] == [0.0, 10.0]
    assert client.get(f"/api/quality/calls/{calls['bob'].pk}/analysis").status_code == 404
    client.logout()
    assert client.get(f"/api/quality/calls/{calls['alice'].pk}/analysis").status_code == 401


def test_api_reviews(client, world, calls, django_assert_num_queries):
    client.force_login(world.alice)
    with django_assert_num_queries(3):  # session, user, reviews
        data = client.get("/api/quality/reviews").json()
    assert [r["call_id"] for r in data] == [calls["alice"].pk]
    client.force_login(world.head)
    assert len(client.get("/api/quality/reviews").json()) == 2
