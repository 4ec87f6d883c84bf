"""The data classes: open enums, runtime helper properties, hardware costs, rate limits."""

from __future__ import annotations

import pytest

from aiospace import SpaceHardware, SpaceRuntime, SpaceStage, SpaceStorage
from aiospace.models import RateLimit, SpaceHardwareInfo, SpaceReplicas

S = SpaceStage
H = SpaceHardware


def test_known_values_equal_their_wire_strings() -> None:
    assert SpaceHardware.CPU_BASIC == "cpu-basic"
    assert SpaceHardware("t4-medium") is SpaceHardware.T4_MEDIUM
    assert SpaceStage.RUNNING == "RUNNING"
    assert SpaceStorage.SMALL == "small"
    assert str(SpaceHardware.A10G_LARGE) == "a10g-large"
    assert f"{SpaceStage.PAUSED}" == "PAUSED"
    assert f"{SpaceHardware.L4X1:>6}" == "  l4x1"
    assert SpaceHardware.CPU_BASIC.is_known


@pytest.mark.parametrize("cls", [SpaceStage, SpaceHardware, SpaceStorage])
def test_unknown_values_parse_and_compare_equal(cls: type[SpaceStage]) -> None:
    value = "quantum-x9000-unheard-of"
    member = cls(value)
    assert member == value
    assert str(member) == value
    assert isinstance(member, cls)
    assert not member.is_known
    assert cls(value) is member  # cached: identity holds
    assert value not in [m.value for m in cls]  # the known list is untouched


@pytest.mark.parametrize("cls", [SpaceStage, SpaceHardware, SpaceStorage])
def test_empty_or_non_str_values_are_refused(cls: type[SpaceStage]) -> None:
    with pytest.raises(ValueError):
        cls("")
    with pytest.raises(ValueError):
        cls(3)


def test_value_spelled_like_a_member_name_is_not_known() -> None:
    # "CPU_BASIC" is a member *name*, not a flavor the Hub speaks: it parses as a new value.
    odd = SpaceHardware("CPU_BASIC")
    assert odd != SpaceHardware.CPU_BASIC
    assert odd == "CPU_BASIC"
    assert not odd.is_known


def test_unknown_stage_is_neither_transitional_nor_error() -> None:
    stage = SpaceStage("HIBERNATING_SOMEWHERE")
    assert not stage.is_transitional
    assert not stage.is_error
    assert not stage.is_serving
    assert SpaceStage("RUNNING_SOMETHING_NEW").is_serving


@pytest.mark.parametrize(
    ("stage", "transitional", "error", "serving"),
    [
        (S.NO_APP_FILE, False, True, False),
        (S.CONFIG_ERROR, False, True, False),
        (S.BUILDING, True, False, False),
        (S.BUILD_ERROR, False, True, False),
        (S.APP_STARTING, True, False, False),
        (S.RUNNING, False, False, True),
        (S.RUNNING_BUILDING, True, False, True),
        (S.RUNNING_APP_STARTING, True, False, True),
        (S.RUNTIME_ERROR, False, True, False),
        (S.DELETING, False, False, False),
        (S.STOPPED, False, False, False),
        (S.PAUSED, False, False, False),
        (S.SLEEPING, False, False, False),
    ],
)
def test_stage_classes(stage: SpaceStage, transitional: bool, error: bool, serving: bool) -> None:
    assert stage.is_transitional is transitional
    assert stage.is_error is error
    assert stage.is_serving is serving
    runtime = SpaceRuntime(stage=stage)
    assert runtime.is_transitional is transitional
    assert runtime.is_error is error


def test_every_stage_is_covered_by_the_table() -> None:
    assert len(SpaceStage) == 13


@pytest.mark.parametrize(
    ("runtime", "converged", "settled"),
    [
        # running on what was requested
        (SpaceRuntime(S.RUNNING, H.T4_SMALL, H.T4_SMALL), True, True),
        # a static Space: nothing requested
        (SpaceRuntime(S.RUNNING, None, None), True, True),
        # running, but the new hardware has not arrived yet
        (SpaceRuntime(S.RUNNING, H.CPU_BASIC, H.T4_SMALL), False, False),
        (SpaceRuntime(S.RUNNING, None, H.T4_SMALL), False, False),
        # building: never settled
        (SpaceRuntime(S.BUILDING, None, H.CPU_BASIC), False, False),
        (SpaceRuntime(S.RUNNING_BUILDING, H.CPU_BASIC, H.CPU_BASIC), True, False),
        # paused / failed: not serving, so settled although hardware differs
        (SpaceRuntime(S.PAUSED, None, H.CPU_BASIC), False, True),
        (SpaceRuntime(S.BUILD_ERROR, None, H.T4_MEDIUM), False, True),
        (SpaceRuntime(S.SLEEPING, None, H.CPU_UPGRADE), False, True),
    ],
)
def test_runtime_converged_and_settled(runtime: SpaceRuntime, converged: bool, settled: bool) -> None:
    assert runtime.is_converged is converged
    assert runtime.is_settled is settled


def test_runtime_equality_ignores_raw() -> None:
    a = SpaceRuntime(S.RUNNING, H.CPU_BASIC, H.CPU_BASIC, raw={"stage": "RUNNING", "x": 1})
    b = SpaceRuntime(S.RUNNING, H.CPU_BASIC, H.CPU_BASIC, raw={"stage": "RUNNING"})
    assert a == b
    assert "raw" not in repr(a)
    assert a != SpaceRuntime(S.RUNNING, H.CPU_BASIC, H.CPU_BASIC, replicas=SpaceReplicas(1, 1))


def test_free_hardware() -> None:
    assert H.CPU_BASIC.is_free
    assert H.ZERO_A10G.is_free
    assert not H.T4_MEDIUM.is_free
    assert not H("brand-new-gpu").is_free


@pytest.mark.parametrize(
    ("cost", "label", "per_hour"),
    [
        (0.01, "minute", 0.6),
        (0.6, "hour", 0.6),
        (0.0001, "second", 0.36),
        (24.0, "day", 1.0),
        (0.6, None, 0.6),  # no label: per hour
        (0.6, "Hour", 0.6),
    ],
)
def test_cost_per_hour(cost: float, label: str | None, per_hour: float) -> None:
    info = SpaceHardwareInfo(name=H.T4_SMALL, unit_cost_usd=cost, unit_label=label)
    assert info.cost_per_hour_usd == pytest.approx(per_hour)


def test_cost_per_hour_unknown() -> None:
    assert SpaceHardwareInfo(name=H.T4_SMALL).cost_per_hour_usd is None
    assert (
        SpaceHardwareInfo(name=H.T4_SMALL, unit_cost_usd=1.0, unit_label="fortnight").cost_per_hour_usd
        is None
    )


@pytest.mark.parametrize(
    ("rate", "fraction"),
    [
        (RateLimit(remaining=250, quota=1000), 0.75),
        (RateLimit(remaining=1000, quota=1000), 0.0),
        (RateLimit(remaining=0, quota=1000), 1.0),
        (RateLimit(remaining=2000, quota=1000), 0.0),  # clamped
        (RateLimit(remaining=None, quota=1000), 0.0),
        (RateLimit(remaining=10, quota=None), 0.0),
        (RateLimit(remaining=10, quota=0), 0.0),
    ],
)
def test_rate_limit_used_fraction(rate: RateLimit, fraction: float) -> None:
    assert rate.used_fraction == pytest.approx(fraction)
