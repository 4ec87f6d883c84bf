"""The Hub's route table: every Space call's name, HTTP method and path template.

Shared by both ends: the client builds its requests from it and the emulator mounts
its handlers on it. Paths only: nothing here encodes or decodes a body.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["ROUTES", "Route"]


@attrs.frozen
class Route:
    """One Space call: its name (the client's method), HTTP method and path template.

    ``{repo_id}`` in the template stands for ``namespace/name``.
    """

    name: str
    method: str
    template: str

    @property
    def is_read(self) -> bool:
        """A read can be replayed safely; a write may not be."""
        return self.method == "GET"

    @property
    def server_path(self) -> str:
        """The template in aiohttp's router syntax (``{namespace}/{name}``)."""
        return self.template.replace("{repo_id}", "{namespace}/{name}")

    def path(self, repo_id: str | None = None) -> str:
        """The path for ``repo_id`` (already validated: no escaping can be needed).

        A template without ``{repo_id}`` (``/api/repos/create``) is the path as is.
        """
        return self.template.replace("{repo_id}", repo_id) if repo_id else self.template


_ROUTE_LIST = [
    Route("get_space_runtime", "GET", "/api/spaces/{repo_id}/runtime"),
    Route("request_space_hardware", "POST", "/api/spaces/{repo_id}/hardware"),
    Route("set_space_sleep_time", "POST", "/api/spaces/{repo_id}/sleeptime"),
    Route("pause_space", "POST", "/api/spaces/{repo_id}/pause"),
    Route("restart_space", "POST", "/api/spaces/{repo_id}/restart"),
    Route("set_space_dev_mode", "POST", "/api/spaces/{repo_id}/dev-mode"),
    Route("get_space_secrets", "GET", "/api/spaces/{repo_id}/secrets"),
    Route("add_space_secret", "POST", "/api/spaces/{repo_id}/secrets"),
    Route("delete_space_secret", "DELETE", "/api/spaces/{repo_id}/secrets"),
    Route("get_space_variables", "GET", "/api/spaces/{repo_id}/variables"),
    Route("add_space_variable", "POST", "/api/spaces/{repo_id}/variables"),
    Route("delete_space_variable", "DELETE", "/api/spaces/{repo_id}/variables"),
    Route("request_space_storage", "POST", "/api/spaces/{repo_id}/storage"),
    Route("delete_space_storage", "DELETE", "/api/spaces/{repo_id}/storage"),
    Route("duplicate_space", "POST", "/api/spaces/{repo_id}/duplicate"),
    Route("set_space_volumes", "PUT", "/api/spaces/{repo_id}/volumes"),
    Route("delete_space_volumes", "DELETE", "/api/spaces/{repo_id}/volumes"),
    Route("create_space", "POST", "/api/repos/create"),
    Route("delete_space", "DELETE", "/api/repos/delete"),
    # Before space_info: its path would match `/api/spaces/{namespace}/{name}` too.
    Route("get_zero_gpu_quota", "GET", "/api/spaces/zero-gpu/quota"),
    Route("list_spaces_hardware", "GET", "/api/spaces/hardware"),
    Route("space_info", "GET", "/api/spaces/{repo_id}"),
    Route("list_spaces", "GET", "/api/spaces"),
    Route("fetch_build_logs", "GET", "/api/spaces/{repo_id}/logs/build"),
    Route("fetch_run_logs", "GET", "/api/spaces/{repo_id}/logs/run"),
    Route("whoami", "GET", "/api/whoami-v2"),
]
#: Every Space call, by name.
ROUTES: Mapping[str, Route] = {r.name: r for r in _ROUTE_LIST}
