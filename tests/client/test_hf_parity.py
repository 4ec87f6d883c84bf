"""Byte-equality with the official client: for the same arguments, aiospace and
``huggingface_hub.HfApi`` send the same method, path, query and JSON body bytes.

Both run against one recording server (``conftest.RecordingHub``); HfApi in a worker
thread. Headers differ on purpose (User-Agent) and are not compared.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from aiospace import ScaledClock, SpaceClient, Volume

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi  # noqa: E402
from huggingface_hub import Volume as HfVolume  # noqa: E402

if TYPE_CHECKING:
    from conftest import RecordingHub

TOKEN = "hf_PARITYtoken0123456789"
REPO = "user/my-space"
RUNTIME = {"stage": "RUNNING", "hardware": {"current": "cpu-basic", "requested": "cpu-basic"}}

VOLUMES: list[dict[str, Any]] = [
    {"type": "model", "source": "user/my-model", "mount_path": "/models", "read_only": True},
    {"type": "bucket", "source": "user/my-bucket", "mount_path": "/data", "path": "sub/dir"},
    {"type": "dataset", "source": "org/data", "mount_path": "/ds", "revision": "v1.0"},
    {"type": "space", "source": "gpt2", "mount_path": "/space", "read_only": False},
]
SECRETS = [{"key": "API_KEY", "value": "s3cret", "description": "the key"}, {"key": "OTHER", "value": "x"}]
VARIABLES = [{"key": "MODEL", "value": "gpt2", "description": "which model \u2013 \u00fcn\u00efcode \u2713"}]


def ours(specs: list[dict[str, Any]]) -> list[Volume]:
    return [Volume(**spec) for spec in specs]


def theirs(specs: list[dict[str, Any]]) -> list[HfVolume]:
    return [HfVolume(**spec) for spec in specs]


@pytest.fixture
async def client(hub: RecordingHub) -> AsyncIterator[SpaceClient]:
    async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=ScaledClock(1000), seed=1) as c:
        yield c


Official = Callable[[HfApi], Any]
Ours = Callable[[SpaceClient], Awaitable[Any]]


@attrs.frozen
class Case:
    official: Official
    ours: Ours
    answers: tuple[tuple[str, str, Any], ...] = ()


def url_answer(repo_id: str) -> Callable[[str], dict[str, Any]]:
    return lambda base: {"url": f"{base}/spaces/{repo_id}"}


CASES: dict[str, Case] = {
    "set_space_volumes": Case(
        lambda api: api.set_space_volumes(REPO, theirs(VOLUMES)),
        lambda c: c.set_space_volumes(REPO, ours(VOLUMES)),
        (("PUT", f"/api/spaces/{REPO}/volumes", RUNTIME),),
    ),
    "set_space_volumes_none": Case(
        lambda api: api.set_space_volumes(REPO, []),
        lambda c: c.set_space_volumes(REPO, []),
        (("PUT", f"/api/spaces/{REPO}/volumes", {}),),
    ),
    "delete_space_volumes": Case(
        lambda api: api.delete_space_volumes(REPO),
        lambda c: c.delete_space_volumes(REPO),
        (("DELETE", f"/api/spaces/{REPO}/volumes", RUNTIME),),
    ),
    "create_minimal": Case(
        lambda api: api.create_repo(REPO, repo_type="space", space_sdk="gradio"),
        lambda c: c.create_space(REPO, sdk="gradio"),
        (("POST", "/api/repos/create", url_answer(REPO)),),
    ),
    "create_everything": Case(
        lambda api: api.create_repo(
            REPO,
            repo_type="space",
            private=True,
            space_sdk="docker",
            space_hardware="t4-small",  # type: ignore[arg-type]
            space_sleep_time=3600,
            space_secrets=SECRETS,
            space_variables=VARIABLES,
            space_volumes=theirs(VOLUMES),
        ),
        lambda c: c.create_space(
            REPO,
            sdk="docker",
            private=True,
            hardware="t4-small",
            sleep_time=3600,
            secrets=SECRETS,
            variables=VARIABLES,
            volumes=ours(VOLUMES),
        ),
        (("POST", "/api/repos/create", url_answer(REPO)),),
    ),
    "create_protected": Case(
        lambda api: api.create_repo(REPO, repo_type="space", space_sdk="static", visibility="protected"),
        lambda c: c.create_space(REPO, sdk="static", visibility="protected"),
        (("POST", "/api/repos/create", url_answer(REPO)),),
    ),
    "create_public_no_volumes": Case(
        lambda api: api.create_repo(
            REPO, repo_type="space", space_sdk="streamlit", private=False, space_volumes=[], space_secrets=[]
        ),
        lambda c: c.create_space(REPO, sdk="streamlit", private=False, volumes=[], secrets=[]),
        (("POST", "/api/repos/create", url_answer(REPO)),),
    ),
    "delete_space": Case(
        lambda api: api.delete_repo(REPO, repo_type="space"),
        lambda c: c.delete_space(REPO),
        (("DELETE", "/api/repos/delete", {}),),
    ),
    "duplicate_everything": Case(
        lambda api: api.duplicate_repo(
            "org/source",
            "user/copy",
            repo_type="space",
            visibility="protected",
            space_hardware="a10g-small",  # type: ignore[arg-type]
            space_sleep_time=600,
            space_secrets=SECRETS,
            space_variables=VARIABLES,
            space_volumes=theirs(VOLUMES),
        ),
        lambda c: c.duplicate_space(
            "org/source",
            "user/copy",
            visibility="protected",
            hardware="a10g-small",
            sleep_time=600,
            secrets=SECRETS,
            variables=VARIABLES,
            volumes=ours(VOLUMES),
        ),
        (("POST", "/api/spaces/org/source/duplicate", url_answer("user/copy")),),
    ),
    "duplicate_private_default_target": Case(
        lambda api: api.duplicate_repo("org/source", repo_type="space", private=True),
        lambda c: c.duplicate_space("org/source", private=True),
        (
            ("GET", "/api/whoami-v2", {"name": "user", "type": "user"}),
            ("POST", "/api/spaces/org/source/duplicate", url_answer("user/source")),
        ),
    ),
    "get_zero_gpu_quota": Case(
        lambda api: api.get_zero_gpu_quota(),
        lambda c: c.get_zero_gpu_quota(),
        (("GET", "/api/spaces/zero-gpu/quota", {"base": 2400, "current": 1810, "resetsAt": None}),),
    ),
    # Calls that were there before, checked the same way.
    "get_space_runtime": Case(
        lambda api: api.get_space_runtime(REPO),
        lambda c: c.get_space_runtime(REPO),
        (("GET", f"/api/spaces/{REPO}/runtime", RUNTIME),),
    ),
    "request_space_hardware": Case(
        lambda api: api.request_space_hardware(REPO, "rtx-pro-6000x2", sleep_time=7200),  # type: ignore[arg-type]
        lambda c: c.request_space_hardware(REPO, "rtx-pro-6000x2", sleep_time=7200),
        (("POST", f"/api/spaces/{REPO}/hardware", RUNTIME),),
    ),
    "restart_factory": Case(
        lambda api: api.restart_space(REPO, factory_reboot=True),
        lambda c: c.restart_space(REPO, factory_reboot=True),
        (("POST", f"/api/spaces/{REPO}/restart", RUNTIME),),
    ),
    "add_space_variable": Case(
        lambda api: api.add_space_variable(REPO, "MODEL", "gpt2 ✓", description="ünïcode"),
        lambda c: c.add_space_variable(REPO, "MODEL", "gpt2 ✓", description="ünïcode"),
        (("POST", f"/api/spaces/{REPO}/variables", {}),),
    ),
}


def _answer(hub: RecordingHub, answers: tuple[tuple[str, str, Any], ...]) -> None:
    for method, path, body in answers:
        hub.answer(method, path, 200, body(hub.url) if callable(body) else body)


def _sent(hub: RecordingHub, start: int) -> list[tuple[str, str, tuple[tuple[str, str], ...], bytes]]:
    return [(r.method, r.path, r.query, r.body) for r in hub.requests[start:]]


@pytest.mark.parametrize("name", sorted(CASES))
async def test_same_bytes_as_the_official_client(hub: RecordingHub, client: SpaceClient, name: str) -> None:
    case = CASES[name]
    _answer(hub, case.answers)
    api = HfApi(endpoint=hub.url, token=TOKEN)
    await asyncio.to_thread(case.official, api)
    official = _sent(hub, 0)
    await case.ours(client)
    mine = _sent(hub, len(official))
    assert official, "the official client sent nothing"
    assert mine == official


async def test_results_read_as_the_official_client_reads_them(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer(
        "GET",
        "/api/spaces/zero-gpu/quota",
        200,
        {"base": 2400, "current": 1810.5, "resetsAt": "2026-09-30T09:12:03.000Z", "overquotaUsed": 12},
    )
    hub.answer(
        "POST",
        "/api/spaces/org/source/duplicate",
        200,
        {"url": f"{hub.url}/spaces/user/copy", "filesCopyPending": True},
    )
    api = HfApi(endpoint=hub.url, token=TOKEN)
    official_quota = await asyncio.to_thread(api.get_zero_gpu_quota)
    official_dup = await asyncio.to_thread(api.duplicate_repo, "org/source", "user/copy", repo_type="space")
    quota = await client.get_zero_gpu_quota()
    dup = await client.duplicate_space("org/source", "user/copy")
    assert (quota.base, quota.remaining, quota.resets_at, quota.overquota_used) == (
        official_quota.base,
        official_quota.remaining,
        official_quota.resets_at,
        official_quota.overquota_used,
    )
    assert (dup.url, dup.files_copy_pending) == (str(official_dup), official_dup.files_copy_pending is True)
    assert dup.files_copy_pending is True
