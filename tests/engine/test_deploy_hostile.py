"""Deploy waits and leases against a hostile or merely realistic Hub (each case failed before its fix)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from hostile_hub import QUICK, HostileHub, Play

from aiospace import (
    BadAnswerError,
    HubHTTPError,
    OnTrouble,
    PermissionDeniedError,
    RetryPolicy,
    ScaledClock,
    SpaceClient,
    SpaceFailedError,
    SpaceStage,
    SpaceStalledError,
    TransportError,
)

REPO = "user/app"
BASE = f"/api/spaces/{REPO}"
OLD = "1" * 40
NEW = "abcdef0123456789abcdef0123456789abcdef01"


def runtime(stage: str, hardware: str | None = "t4-small", **extra: Any) -> dict[str, Any]:
    return {"stage": stage, "hardware": {"current": hardware, "requested": hardware}, **extra}


def info(sha: object, stage: str = "RUNNING", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": REPO, "sdk": "gradio", "runtime": runtime(stage, **extra)}
    if sha is not None:
        data["sha"] = sha
    return data


def build_log(*lines: str) -> bytes:
    return b"".join(b"data: " + json.dumps({"data": line}).encode() + b"\n\n" for line in lines)


@pytest.fixture
async def client(hostile: HostileHub) -> AsyncIterator[SpaceClient]:
    retry = RetryPolicy(read_attempts=2, write_attempts=2, base_delay=0.01)
    async with SpaceClient(
        endpoint=hostile.url, token="hf_test", clock=ScaledClock(1000), seed=1, retry=retry
    ) as made:
        yield made


# ---------------------------------------------------------------------- remedies the Hub refuses


@pytest.mark.parametrize("status", [403, 409, 503])
async def test_a_refused_factory_reboot_still_ends_in_the_stall(
    hostile: HostileHub, client: SpaceClient, status: int
) -> None:
    """A read-only token (403), a conflict or a Hub that fails the reboot: the caller hears the
    stall (with the build log), not the reboot's refusal, which is kept as its cause."""
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(runtime("BUILDING")))
    hostile.play("POST", f"{BASE}/restart", HostileHub.json({"error": "refused"}, status))
    hostile.play("GET", f"{BASE}/logs/build", HostileHub.sse(build_log("step 3 of 9")))
    with anyio.fail_after(10), pytest.raises(SpaceStalledError) as stalled:
        await client.wait_for_space(
            REPO, trouble=OnTrouble(on_stall="factory_reboot", stall_after=30), timeout=600, cadence=QUICK
        )
    error = stalled.value
    assert error.repo_id == REPO and error.runtime.stage == SpaceStage.BUILDING and not error.rebooted
    assert error.log_lines == ["step 3 of 9"]
    assert isinstance(error.__cause__, (HubHTTPError, TransportError))
    assert hostile.count(f"{BASE}/restart") >= 1


async def test_a_refused_capacity_retry_ends_in_the_capacity_failure(
    hostile: HostileHub, client: SpaceClient
) -> None:
    failure = runtime("RUNTIME_ERROR", errorMessage="Scheduling failure: not enough hardware capacity")
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(failure))
    hostile.play("POST", f"{BASE}/restart", HostileHub.json({"error": "read-only token"}, 403))
    hostile.play("POST", f"{BASE}/hardware", HostileHub.json({"error": "read-only token"}, 403))
    for fallback in ([], ["a10g-large"]):
        with anyio.fail_after(10), pytest.raises(SpaceFailedError) as failed:
            await client.wait_for_space(
                REPO,
                trouble=OnTrouble(retry_capacity=2, fallback_hardware=fallback),
                timeout=6000,
                cadence=QUICK,
            )
        assert type(failed.value) is SpaceFailedError
        assert "Scheduling failure" in str(failed.value)
        assert isinstance(failed.value.__cause__, PermissionDeniedError)
    assert hostile.count(f"{BASE}/restart") == 1 and hostile.count(f"{BASE}/hardware") == 1


# ---------------------------------------------------------------------- the head commit in the Space's info


async def test_an_info_without_a_head_sha_never_spins_a_wait_without_timeout(
    hostile: HostileHub, client: SpaceClient
) -> None:
    """``sha`` renamed or dropped from the Space's info: the wait ends (BadAnswerError) after
    ``max_bad_answers`` such answers, as for any answer it can't read, instead of polling for ever."""
    hostile.play("GET", BASE, HostileHub.json(info(None)))
    with anyio.fail_after(10), pytest.raises(BadAnswerError) as bad:
        await client.wait_for_space(REPO, revision=NEW, timeout=None, cadence=QUICK)
    assert bad.value.reason == "shape" and "sha" in str(bad.value) and REPO in str(bad.value)
    assert hostile.count(BASE) == QUICK.max_bad_answers


@pytest.mark.parametrize("odd", ["", "main", 42, None, "g" * 40])
async def test_an_unreadable_head_for_a_moment_is_not_a_superseded_revision(
    hostile: HostileHub, client: SpaceClient, odd: object
) -> None:
    """The head seen at the revision, then one answer with an odd ``sha`` (empty, a branch
    name, a number, null, not hex): not "superseded by ''", the wait goes on."""
    confirms = HostileHub.sse(build_log(f"===== Build Queued at x / Commit SHA: {NEW[:7]} ====="))
    hostile.play(
        "GET",
        BASE,
        HostileHub.json(info(NEW, "RUNNING_BUILDING")),
        HostileHub.json({**info(NEW, "RUNNING_BUILDING"), "sha": odd}),
        HostileHub.json(info(NEW, "RUNNING")),
    )
    hostile.play("GET", f"{BASE}/logs/build", confirms)
    with anyio.fail_after(10):
        done = await client.wait_for_space(REPO, revision=NEW, timeout=600, cadence=QUICK)
    assert done.stage == SpaceStage.RUNNING


async def test_an_upper_case_head_from_the_hub_is_the_revision(
    hostile: HostileHub, client: SpaceClient
) -> None:
    hostile.play(
        "GET",
        BASE,
        HostileHub.json(info(NEW.upper(), "RUNNING_BUILDING")),
        HostileHub.json(info(NEW.upper(), "RUNNING")),
    )
    hostile.play(
        "GET",
        f"{BASE}/logs/build",
        HostileHub.sse(build_log(f"===== Build Queued at x / Commit SHA: {NEW[:7].upper()} =====")),
    )
    with anyio.fail_after(10):
        done = await client.wait_for_space(REPO, revision=NEW, timeout=600, cadence=QUICK)
    assert done.stage == SpaceStage.RUNNING


# ---------------------------------------------------------------------- the stale RUNNING


def queued(sha: str, at: str = "2026-05-01 12:00:00") -> Play:
    return HostileHub.sse(build_log(f"===== Build Queued at {at} / Commit SHA: {sha[:7]} =====", "--> FROM"))


def started(*at: str) -> Play:
    """A run log: one container start per time (a rolling update appends the new one's)."""
    lines = [line for t in at for line in (f"===== Application Startup at {t} =====", "Running on URL")]
    return HostileHub.sse(build_log(*lines))


async def test_a_queued_build_of_the_revision_is_not_the_old_container_running(
    hostile: HostileHub, client: SpaceClient
) -> None:
    """The build log already names the revision ("Build Queued"), but the runtime still shows
    the old container RUNNING for a few polls before RUNNING_BUILDING: the run log's header says
    that container started before the build was queued, so the wait goes on for the new one."""
    hostile.play("GET", BASE, HostileHub.json(info(NEW, "RUNNING")), times=4)
    hostile.play("GET", BASE, HostileHub.json(info(NEW, "RUNNING_BUILDING")), times=2)
    hostile.play("GET", BASE, HostileHub.json(info(NEW, "RUNNING", marker="new")))
    hostile.play("GET", f"{BASE}/logs/build", queued(NEW))
    hostile.play("GET", f"{BASE}/logs/run", started("2026-05-01 09:00:00"), times=4)
    hostile.play("GET", f"{BASE}/logs/run", started("2026-05-01 09:00:00", "2026-05-01 12:03:00"))
    with anyio.fail_after(10):
        done = await client.wait_for_space(REPO, revision=NEW, timeout=600, cadence=QUICK)
    assert hostile.count(BASE) == 7, "it returned the RUNNING read after the build, not the old one"
    assert done.stage == SpaceStage.RUNNING


async def test_a_late_waiter_still_returns_at_once(hostile: HostileHub, client: SpaceClient) -> None:
    """The revision was built and runs (its container started after the build was queued); a run
    log without its header, or unreadable, keeps the log's word."""
    for run_log in (started("2026-05-01 12:03:00"), HostileHub.sse(build_log("no header")), None):
        hostile.requests.clear()
        hostile.play("GET", BASE, HostileHub.json(info(NEW, "RUNNING")))
        hostile.play("GET", f"{BASE}/logs/build", queued(NEW))
        if run_log is not None:
            hostile.play("GET", f"{BASE}/logs/run", run_log)
        else:
            hostile.play("GET", f"{BASE}/logs/run", HostileHub.json({"error": "gone"}, 404))
        with anyio.fail_after(10):
            done = await client.wait_for_space(REPO, revision=NEW, timeout=600, cadence=QUICK)
        assert done.stage == SpaceStage.RUNNING and hostile.count(BASE) == 2


# ---------------------------------------------------------------------- capacity retries


async def test_the_failure_a_capacity_retry_cures_is_not_counted_twice(
    hostile: HostileHub, client: SpaceClient
) -> None:
    """The restart is taken, but the next polls still show the scheduling failure for a moment
    (as a push shows its build a little later): that is not a second failure burning a retry."""
    failure = runtime("RUNTIME_ERROR", errorMessage="Scheduling failure: not enough hardware capacity")
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(failure), times=3)
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(runtime("BUILDING")), times=2)
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(runtime("RUNNING")))
    hostile.play("POST", f"{BASE}/restart", HostileHub.json(failure))
    with anyio.fail_after(10):
        done = await client.wait_for_space(
            REPO, trouble=OnTrouble(retry_capacity=1), timeout=6000, cadence=QUICK
        )
    assert done.stage == SpaceStage.RUNNING
    assert hostile.count(f"{BASE}/restart") == 1


async def test_a_capacity_failure_that_outlasts_the_grace_is_counted_again(
    hostile: HostileHub, client: SpaceClient
) -> None:
    failure = runtime("RUNTIME_ERROR", errorMessage="Scheduling failure: not enough hardware capacity")
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(failure))
    hostile.play("POST", f"{BASE}/restart", HostileHub.json(failure))
    with anyio.fail_after(10), pytest.raises(SpaceFailedError):
        await client.wait_for_space(
            REPO, trouble=OnTrouble(retry_capacity=2, build_grace=20), timeout=6000, cadence=QUICK
        )
    assert hostile.count(f"{BASE}/restart") == 2
