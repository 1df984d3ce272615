"""Reporting's record of first occurrences: a repeat of an event is a fact of the log, so
the live sink and a rebuild, whichever recorded it, agree on what repeats."""

from __future__ import annotations

from services.reporting.event_ids import FirstOccurrences, event_key


def test_the_first_occurrence_is_folded_and_later_ones_are_repeats() -> None:
    a, b = event_key(0, "telegram:-1", "e1"), event_key(0, "telegram:-1", "e2")
    result = FirstOccurrences.classify([(10, a), (11, b), (12, a), (13, a)], {})
    assert result.repeats == {12, 13}
    assert result.new == {a: 10, b: 11}


def test_known_first_occurrences_come_from_earlier_batches_or_other_writers() -> None:
    a = event_key(3, "slack:C1", "e1")
    # recorded at offset 5 by an earlier batch: offset 5 itself is folded again (a crash
    # or a rebuild), offset 9 is a repeat, and nothing new is recorded
    again = FirstOccurrences.classify([(5, a), (9, a)], {a: 5})
    assert again.repeats == {9} and again.new == {}


def test_the_same_id_in_another_group_is_another_event() -> None:
    a, b = event_key(0, "telegram:-1", "e1"), event_key(0, "telegram:-2", "e1")
    assert a != b
    assert FirstOccurrences.classify([(1, a), (2, b)], {}).repeats == set()


async def test_a_pass_tells_repeats_from_what_it_has_read() -> None:
    from services.reporting.event_ids import PassFirstOccurrences

    seen = PassFirstOccurrences()
    assert await seen.repeats("t", 0, [(0, "a"), (1, "b"), (2, "a")], None) == {2}
    # the same batch folded again (its transaction failed): its first occurrences stay
    assert await seen.repeats("t", 0, [(0, "a"), (1, "b"), (2, "a")], None) == {2}
    assert await seen.repeats("t", 0, [(3, "b"), (4, "c")], None) == {3}
    # another partition, or another topic, is another log
    assert await seen.repeats("t", 1, [(0, "a")], None) == set()
    assert await seen.repeats("u", 0, [(0, "a")], None) == set()
