"""Texts and queries for every text search (`q=`): Unicode case folding in German, Greek, Turkish and Russian,
compatibility forms, and LIKE wildcards that must stay literal. Each query names exactly the texts it finds."""

TEXTS = (
    "Überlauf im Puffer",
    "Straße gesperrt",
    "Σφάλμα δικτύου στην ΟΔΟΣ",
    "İstanbul veri merkezi",
    "Ошибка базы данных",
    "ＡＰＩ timeout",
    "ﬁle system full",
    "100% disk",
    "a_b c",
    "back\\slash",
    "café crème",
)

QUERIES: dict[str, set[str]] = {
    "überlauf": {"Überlauf im Puffer"},
    "ÜBERLAUF IM": {"Überlauf im Puffer"},
    "puffer": {"Überlauf im Puffer"},
    "STRASSE": {"Straße gesperrt"},
    "strasse": {"Straße gesperrt"},
    "σφάλμα": {"Σφάλμα δικτύου στην ΟΔΟΣ"},
    "ΣΦΆΛΜΑ": {"Σφάλμα δικτύου στην ΟΔΟΣ"},
    "οδος": {"Σφάλμα δικτύου στην ΟΔΟΣ"},  # final sigma matches capital sigma
    "istanbul": {"İstanbul veri merkezi"},
    "İSTANBUL": {"İstanbul veri merkezi"},
    "ошибка": {"Ошибка базы данных"},
    "БАЗЫ": {"Ошибка базы данных"},
    "api": {"ＡＰＩ timeout"},  # full-width letters
    "FILE": {"ﬁle system full"},  # the fi ligature
    "100%": {"100% disk"},
    "%": {"100% disk"},  # a wildcard in the query is a literal character
    "_": {"a_b c"},
    "a_b": {"a_b c"},
    "\\": {"back\\slash"},
    "CAFÉ": {"café crème"},
    "cafe": set(),  # accents stay significant
    "puffer im": set(),
}


async def assert_text_search(create, search, second_field: bool = True) -> None:
    """Store TEXTS through `create(text, second)` and check every query through `search(q) -> set of texts`;
    with `second_field`, also that the search reads the record's second field but never across the two."""
    for text in TEXTS:
        await create(text, "")
    if second_field:
        await create("alpha", "Ωmega in the second field")
    for query, expected in QUERIES.items():
        assert await search(query) == expected, query
    if second_field:
        assert await search("ΩMEGA IN") == {"alpha"}
        assert await search("alpha ω") == set()
