"""The folding every SQL text search shares (vigil.runtime.text), on its own."""

from tests.support.text_cases import QUERIES, TEXTS
from vigil.runtime.text import fold, folded


def test_fold_matches_what_a_reader_would():
    assert fold("Überlauf") == fold("ÜBERLAUF") == "überlauf"
    assert fold("Straße") == fold("STRASSE") == "strasse"
    assert fold("ΟΔΟΣ") == fold("οδος") == fold("οδοσ")
    assert fold("İstanbul") == fold("ISTANBUL") == "istanbul"
    assert fold("ılık") == fold("ILIK") == "ilik"  # the dotless ı reads as i, as in log search
    assert fold("ＡＰＩ") == "api" and fold("ﬁle") == "file"
    assert fold("Ёлка") == "ёлка" and fold("café") != fold("cafe")


def test_the_cases_agree_with_fold():
    """The shared cases are hand-written; folding both sides and looking for the query finds exactly them."""
    for query, expected in QUERIES.items():
        assert {t for t in TEXTS if fold(query) in fold(t)} == expected, query


def test_folded_columns():
    assert folded(title="Überlauf", description="Ωmega") == {"title_folded": "überlauf",
                                                             "description_folded": "ωmega"}
