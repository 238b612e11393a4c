"""The bounded memo of list pages: what it keeps, what it lets go, and that it stays within its bound."""

from vigil.runtime.memo import Memo


def test_keeps_what_is_used_and_lets_the_rest_go_within_two_generations():
    memo: Memo[str, str] = Memo(2)
    assert memo.get("a") is None
    assert memo.put("a", "A") == "A"
    memo.put("b", "B")
    memo.put("c", "C")  # the generation (a, b) was full: it becomes the old one, c starts the new one
    assert memo.get("a") == "A"  # found in the old generation: moves to the new one (c, a)
    memo.put("d", "D")  # (c, a) becomes the old generation; b, in neither, is gone
    assert memo.get("b") is None
    assert memo.get("a") == "A"  # used again: moves on with the new generation (d, a)
    memo.put("e", "E")  # c was not used since it was put: gone; a stays
    assert memo.get("c") is None
    assert [memo.get(k) for k in "ade"] == ["A", "D", "E"]
    assert len(memo) <= 2 * memo.size


def test_makes_a_value_only_when_it_does_not_hold_one():
    made: list[str] = []

    def make(source: str) -> str:
        made.append(source)
        return source.upper()

    memo: Memo[tuple[str, int], str] = Memo(8)
    assert [memo.get_or_make(("t", 1), make, "x") for _ in range(3)] == ["X", "X", "X"]
    assert memo.get_or_make(("t", 2), make, "y") == "Y"
    assert made == ["x", "y"]
