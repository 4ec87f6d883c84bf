"""Argument checks: every bad value raises InvalidArgumentError (a ValueError) naming the argument."""

from __future__ import annotations

from typing import Any

import pytest

from aiospace import InvalidArgumentError, SpaceHardware, SpaceStorage
from aiospace._hub import validate as v

BAD_REPO_IDS: list[Any] = [
    "",
    "noslash",
    "a/b/c",
    "/name",
    "user/",
    "user/..",
    "user/a..b",
    "../etc",
    "user/my space",
    " user/space",
    "user/space ",
    "user/espacé",
    "usér/space",
    "user/" + "a" * 97,
    "u" * 97 + "/space",
    "user/space?x=1",
    "user/space#frag",
    "user%2Fspace",
    "user/a%2Fb",
    "user/a--b",
    "user/-space",
    "user/space-",
    "user/.space",
    "user/space.git",
    "user/space\n",
    "user/space\x00",
    None,
    42,
    b"user/space",
]


@pytest.mark.parametrize("repo_id", BAD_REPO_IDS)
def test_bad_repo_ids(repo_id: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        v.check_repo_id(repo_id)
    assert isinstance(info.value, ValueError)
    assert info.value.argument == "repo_id"
    assert str(info.value).startswith("invalid repo_id:")


def test_bad_repo_id_names_the_argument_given() -> None:
    with pytest.raises(InvalidArgumentError, match="invalid to_id") as info:
        v.check_repo_id("nope", "to_id")
    assert info.value.argument == "to_id"


@pytest.mark.parametrize(
    "repo_id",
    [
        "user/space",
        "a/b",
        "Org-Name/my_space.v2",
        "user_/_space",
        "u" * 96 + "/" + "s" * 96,
        "user/1",
    ],
)
def test_good_repo_ids(repo_id: str) -> None:
    assert v.check_repo_id(repo_id) == repo_id


@pytest.mark.parametrize("sleep_time", [-2, -100, 1.5, 3600.0, True, False, "10", None, [60]])
def test_bad_sleep_times(sleep_time: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        v.check_sleep_time(sleep_time)
    assert info.value.argument == "sleep_time"


@pytest.mark.parametrize("sleep_time", [-1, 0, 1, 3600, 172800, 10**9])
def test_good_sleep_times(sleep_time: int) -> None:
    assert v.check_sleep_time(sleep_time) == sleep_time


@pytest.mark.parametrize(
    "flavor", ["", "T4-MEDIUM", "t4 medium", "t4_medium", "-t4", "t4-", "gpu/x", "a" * 65, None, 4]
)
def test_bad_flavors(flavor: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        v.check_flavor(flavor)
    assert info.value.argument == "hardware"


@pytest.mark.parametrize("flavor", [m.value for m in SpaceHardware])
def test_known_flavors(flavor: str) -> None:
    result = v.check_flavor(flavor)
    assert result is SpaceHardware(flavor)
    assert result.is_known


def test_new_well_formed_flavor_is_accepted() -> None:
    result = v.check_flavor("h100x8")
    assert result == "h100x8"
    assert isinstance(result, SpaceHardware)
    assert not result.is_known
    assert v.check_flavor(SpaceHardware.T4_SMALL) is SpaceHardware.T4_SMALL


@pytest.mark.parametrize("tier", ["", "Small", "x large", "huge!", None, 1])
def test_bad_tiers(tier: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        v.check_tier(tier)
    assert info.value.argument == "storage"


@pytest.mark.parametrize("tier", ["small", "medium", "large", SpaceStorage.LARGE])
def test_good_tiers(tier: str) -> None:
    assert v.check_tier(tier) == tier
    assert v.check_tier(tier).is_known


@pytest.mark.parametrize("key", ["", "1ABC", "MY-KEY", "MY KEY", "KEY=1", "clé", "A" * 257, "a.b", None, 7])
def test_bad_keys(key: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        v.check_key(key)
    assert info.value.argument == "key"


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("", "must not be empty"),
        ("1ABC", "must not start with a digit"),
        ("lower-case", "may only hold ASCII letters, digits and '_' (it holds '-')"),
        ("MY KEY", "(it holds a space)"),
        ("clé", "(it holds another character)"),
        ("A" * 257, "at most 256 characters long, not 257"),
    ],
)
def test_a_bad_key_is_told_the_rule_it_broke_never_quoted(key: str, rule: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        v.check_key(key)
    assert rule in str(info.value)
    assert "environment-variable name" in str(info.value)
    if key:
        assert key not in str(info.value)  # it could be a secret value given as a key


@pytest.mark.parametrize("key", ["A", "_", "foo", "MODEL_REPO_ID", "gh_api_key", "A" * 256, "x1"])
def test_good_keys(key: str) -> None:
    assert v.check_key(key) == key


def test_values() -> None:
    assert v.check_value("") == ""
    limit = "x" * v.MAX_VALUE_BYTES
    assert v.check_value(limit) == limit
    with pytest.raises(InvalidArgumentError) as info:
        v.check_value(limit + "x")
    assert info.value.argument == "value"
    # The limit counts UTF-8 bytes, not characters.
    with pytest.raises(InvalidArgumentError):
        v.check_value("é" * (v.MAX_VALUE_BYTES // 2 + 1))
    with pytest.raises(InvalidArgumentError):
        v.check_value(123)


def test_oversized_value_is_never_quoted() -> None:
    secret = "hf_SECRETVALUE" * 10_000
    with pytest.raises(InvalidArgumentError) as info:
        v.check_value(secret)
    assert "hf_SECRETVALUE" not in str(info.value)


def test_descriptions() -> None:
    assert v.check_description(None) is None
    assert v.check_description("d" * v.MAX_DESCRIPTION) == "d" * v.MAX_DESCRIPTION
    with pytest.raises(InvalidArgumentError) as info:
        v.check_description("d" * (v.MAX_DESCRIPTION + 1))
    assert info.value.argument == "description"
    with pytest.raises(InvalidArgumentError):
        v.check_description(12)


async def test_a_secret_passed_as_key_is_not_quoted_in_the_error() -> None:
    """Swapping key and value must not put the secret value into an exception message."""
    from aiospace import SpaceClient

    secret = "hf_very-secret value!"
    async with SpaceClient(token=False, endpoint="http://127.0.0.1:9") as client:
        with pytest.raises(InvalidArgumentError) as refused:
            await client.add_space_secret("alice/demo", secret, "API_KEY")
    assert refused.value.argument == "key"
    assert secret not in str(refused.value) and "secret" not in repr(refused.value)


def test_a_long_bad_repo_id_is_quoted_cut() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        v.check_repo_id("user/" + "x" * 100_000 + "/more")
    assert len(str(info.value)) < 200
    assert "(100,010 characters)" in str(info.value)


@pytest.mark.careless
@pytest.mark.parametrize("value", [10**400, -(10**400), 10**5000], ids=["huge", "huge-negative", "past-repr"])
def test_an_int_past_any_float_is_refused_as_a_duration_not_an_overflow(value: int) -> None:
    """Every duration goes through ``check_seconds``: an int no float holds is our typed error."""
    from aiospace import OnTrouble, SpaceClient, WebhookPoster

    for make in (
        lambda: v.check_seconds(value, "timeout"),
        lambda: SpaceClient(timeout=value, token=False),
        lambda: OnTrouble(build_grace=value),
        lambda: WebhookPoster("http://127.0.0.1:9/hook", timeout=value),
    ):
        with pytest.raises(InvalidArgumentError, match="too large"):
            make()
