import pytest

from mapper.text import normalize_text


@pytest.mark.parametrize(
    "text, read",
    [
        ("a\x00cat", "acat"),  # a NUL is not a separator: the tokenizer dropped it too
        ("a\x1b[31mcat", "a[31mcat"),  # the escape code's control character only
        ("a\u200bcat\u200d\ufeff", "acat"),  # zero-width space and joiner, byte-order mark
        ("\u202eright to left\u202c", "right to left"),  # bidirectional override and its end
        ("soft\u00adhyphen", "softhyphen"),
        ("a\ud800cat", "acat"),  # a lone surrogate, which the tokenizer refuses outright
        ("  my\tcat\r\n\u2028sleeps\x85 ", "my cat sleeps"),  # white space of every kind: one space, trimmed
        ("cafe\u0301", "caf\u00e9"),  # NFC: e + combining acute -> é
        ("Ο γάτος κοιμάται 😴", "Ο γάτος κοιμάται 😴"),  # visible text is left as it is
        ("\u200b\u2060\x00 \n", ""),
    ],
)
def test_invisible_characters_go_and_white_space_collapses(text, read):
    assert normalize_text(text) == read


def test_normalising_twice_changes_nothing():
    text = " cafe\u0301\u200b au\x00 lait\n"
    assert normalize_text(normalize_text(text)) == normalize_text(text) == "café au lait"
