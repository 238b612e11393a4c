"""The bounded memo of list pages: what it keeps, and that it never holds more than its size."""

from vigil.runtime.memo import Memo


def test_keeps_values_by_key_and_lets_the_oldest_go_when_full():
    memo: Memo[tuple[str, int], str] = Memo(3)
    assert memo.get(("a", 1)) is None
    assert memo.put(("a", 1), "A1") == "A1"
    for key in (("b", 1), ("c", 1), ("a", 2)):
        memo.put(key, key[0].upper() + str(key[1]))
    assert len(memo) == 3
    assert memo.get(("a", 1)) is None  # the oldest went
    assert [memo.get(k) for k in (("b", 1), ("c", 1), ("a", 2))] == ["B1", "C1", "A2"]
