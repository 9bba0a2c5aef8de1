"""utils.masking: personal data and secrets out, process numbers in."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.masking import mask


@pytest.mark.parametrize(("text", "secret"), [
    ("meu cpf é 123.456.789-09", "123.456.789-09"),
    ("cpf 12345678909 sem pontos", "12345678909"),
    ("empresa 12.345.678/0001-90", "12.345.678/0001-90"),
    ("escreva para fulano.silva@example.com.br", "fulano.silva@example.com.br"),
    ("/busca?email=fulano%40example.com", "fulano%40example.com"),
    ("ligue (27) 3246-8200", "3246-8200"),
    ("celular 27 99999-1234", "99999-1234"),
    ("+55 27 99999 1234", "99999 1234"),
    ("Authorization: Bearer abc.def-123", "abc.def-123"),
    ("token=Bearer%20sk-acceptance-secret", "sk-acceptance-secret"),
    ("chave sk-proj-abcdefghijkl", "sk-proj-abcdefghijkl"),
    ("Authorization: APIKey cDZHYzlZa0JadVREZDJCendQbXY", "cDZHYzlZa0JadVREZDJCendQbXY"),
    ("api_key=abc123xyz&x=1", "abc123xyz"),
    ("RG 12.345.678-9", "12.345.678-9"),
])
def test_personal_data_and_secrets_are_masked(text, secret):
    assert secret not in mask(text)


@pytest.mark.parametrize("text", [
    "processo 0022783-22.2017.8.08.0024",
    "processo 00227832220178080024",
    "2026-11-25T10:31:12.123Z levou 1234.5 ms",
    "request 0a1b2c3d4e5f60718293a4b5c6d7e8f9",
])
def test_process_numbers_dates_and_ids_are_kept(text):
    assert mask(text) == text


def test_empty_text_is_returned_as_is():
    assert mask("") == ""
    assert mask(None) is None


# The forms found stored unmasked (issue 17), and e-mail addresses with accented letters.
@pytest.mark.parametrize(("text", "secret"), [
    ("meu zap +5527999998888", "999998888"),
    ("ligue (27) 9 9999 8888", "9999 8888"),
    ("tel 27.99999.8888", "99999.8888"),
    ("cpf 123 456 789 09", "456 789"),
    ("cpf 123.456.789.09", "456.789"),
    ("cpf 123.456.789/09", "456.789"),
    ("escreva para joão.conceição@exemplo.com.br", "conceição"),
    ("e-mail: maría-josé@correo.es", "josé"),
    ("cnpj 12 345 678 0001 90", "345 678"),
    ("+55 (27) 99999-8888", "99999-8888"),
    ("na url /pessoa/123.456.789-09/x", "456.789"),
])
def test_every_brazilian_way_of_writing_personal_data_is_masked(text, secret):
    assert secret not in mask(text)


_SEPARATORS = st.sampled_from(["", ".", "-", " ", "/"])
_FILLER = st.text(alphabet=st.sampled_from("abcdeçãé :,;!?"), max_size=12)


def _digits(count: int):
    return st.text(alphabet="0123456789", min_size=count, max_size=count)


@st.composite
def cpfs(draw):
    groups = [draw(_digits(3)), draw(_digits(3)), draw(_digits(3)), draw(_digits(2))]
    return "".join(group + (draw(_SEPARATORS) if i < 3 else "") for i, group in enumerate(groups)), groups


@st.composite
def phones(draw):
    prefix = draw(st.sampled_from(["", "+55", "+55 ", "55 "]))
    area = draw(_digits(2))
    area_text = draw(st.sampled_from([f"({area}) ", f"({area})", f"{area} ", f"{area}-", f"{area}."]))
    ninth = draw(st.sampled_from(["", "9", "9 ", "9."]))
    first, last = draw(_digits(4)), draw(_digits(4))
    return f"{prefix}{area_text}{ninth}{first}{draw(st.sampled_from(['', '-', ' ', '.']))}{last}", [first, last]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(before=_FILLER, after=_FILLER, number=cpfs())
def test_a_cpf_written_any_way_is_masked(before, after, number):
    text, groups = number
    masked = mask(f"{before} {text} {after}")
    assert "".join(groups) not in "".join(ch for ch in masked if ch.isdigit())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(before=_FILLER, after=_FILLER, number=phones())
def test_a_phone_written_any_way_is_masked(before, after, number):
    text, (first, last) = number
    digits = "".join(ch for ch in mask(f"{before} {text} {after}") if ch.isdigit())
    assert first + last not in digits and last not in digits[-4:]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(local=st.text(alphabet=st.characters(categories=["Ll", "Lu"]), min_size=1, max_size=10),
       domain=st.text(alphabet=st.characters(categories=["Ll"]), min_size=1, max_size=10))
def test_an_email_with_any_letters_is_masked(local, domain):
    masked = mask(f"contato {local}@{domain}.com.br hoje")
    assert masked == "contato ***@*** hoje"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(digits=_digits(20), before=_FILLER)
def test_a_process_number_is_never_masked(digits, before):
    formatted = f"{digits[:7]}-{digits[7:9]}.{digits[9:13]}.{digits[13]}.{digits[14:16]}.{digits[16:]}"
    assert formatted in mask(f"{before} processo {formatted}")
    assert digits in mask(f"{before} processo {digits}")
