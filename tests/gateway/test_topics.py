"""gateway.topics.Topics: names under greenwave/<site>/<intersection>/ (docs/architecture.md)."""

import pytest

from gateway.topics import Topics


def test_base_and_every_named_topic():
    t = Topics("riverside", "cross")
    assert t.base == "greenwave/riverside/cross"
    for name in ("availability", "state", "telemetry", "events", "decision", "plan", "health"):
        assert getattr(t, name) == f"greenwave/riverside/cross/{name}"


def test_command_topics_sit_under_cmd():
    assert Topics("s", "i").cmd("preempt") == "greenwave/s/i/cmd/preempt"


def test_topics_of_two_intersections_do_not_overlap():
    a, b = Topics("s", "north"), Topics("s", "south")
    assert a.state != b.state
    assert not a.state.startswith(b.base + "/")


def test_unknown_topic_is_an_attribute_error():
    with pytest.raises(AttributeError, match="telemtry"):
        Topics("s", "i").telemtry  # noqa: B018 - the typo is the point


def test_hasattr_works_for_unknown_names():
    # copy/pickle and mocks probe attributes with hasattr: __getattr__ must say no, not crash.
    t = Topics("s", "i")
    assert not hasattr(t, "nonexistent")
    assert hasattr(t, "events")


@pytest.mark.parametrize(
    ("site", "intersection", "field", "value"),
    [
        ("", "cross", "site", ""),
        ("a/b", "cross", "site", "a/b"),
        ("s", "x+y", "intersection", "x+y"),
        ("s", "all#", "intersection", "all#"),
        ("s", "main st", "intersection", "main st"),
        ("s", "", "intersection", ""),
    ],
)
def test_a_name_that_cannot_be_a_topic_level_is_refused(site, intersection, field, value):
    with pytest.raises(ValueError) as err:
        Topics(site, intersection)
    assert f"{field} {value!r}" in str(err.value)
