"""The staff paste: several numbers per line, separated by ";", "," or spaces, each with its own verdict."""
from services.processes import follows

TJES = "0022783-22.2017.8.08.0024"
TJSP = "0010490-56.2025.8.26.0309"


def test_a_line_may_hold_several_numbers():
    text = f"{TJES}; {TJSP}\n{TJES},{TJES} {TJES}\n\n  00227832220178080024  "
    assert len(follows.pasted_items(text)) == 6


def test_a_piece_without_a_number_is_kept_for_its_own_verdict():
    assert follows.pasted_items(f"{TJES}; lixo\n123") == [TJES, "lixo", "123"]


def test_an_en_dash_from_a_pdf_is_read():
    assert follows.pasted_items("0022783\u201322.2017.8.08.0024") == [TJES]


def test_follow_many_gives_one_verdict_per_number(app):
    with app.app_context():
        verdicts = follows.follow_many(f"{TJES}; {TJSP}; {TJES}", user_id=None)
    assert [v.outcome for v in verdicts] == ["added", "invalid", "repeated"]
