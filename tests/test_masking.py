"""utils.masking: personal data and secrets out, process numbers in."""
import pytest

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
