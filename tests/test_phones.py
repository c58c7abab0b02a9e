from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelwatch.lib.phones import InvalidPhone, normalize

mn_subscriber = st.integers(min_value=80000000, max_value=99999999)


@given(
    mn_subscriber,
    st.sampled_from(
        ["{n}", "+976{n}", "+976 {a} {b}", "00976{n}", "({a}) {b}", "976{n}", "810976{n}"]
    ),
)
def test_mongolian_spellings_normalise_to_one_value(number, template):
    text = str(number)
    raw = template.format(n=text, a=text[:4], b=text[4:])
    assert normalize(raw, "MN") == f"+976{number}"


@given(st.integers(min_value=900_000_0000, max_value=999_999_9999))
def test_russian_trunk_and_international_spellings_agree(number):
    national = f"8{number}"
    assert normalize(national, "RU") == normalize(f"+7{number}", "MN") == f"+7{number}"
    assert normalize(f"8 ({str(number)[:3]}) {str(number)[3:]}", "RU") == f"+7{number}"
    assert normalize(f"8107{number}", "MN") == f"+7{number}"


@given(st.text(alphabet="abcxyz!?#", min_size=1, max_size=12))
def test_garbage_is_refused_with_a_reason(text):
    with pytest.raises(InvalidPhone) as err:
        normalize(text, "MN")
    assert str(err.value)


@pytest.mark.parametrize("raw", ["", "   ", "12", "+976123", "+1234567890123456789"])
def test_wrong_lengths_are_refused(raw):
    with pytest.raises(InvalidPhone):
        normalize(raw, "MN")
