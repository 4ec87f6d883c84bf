"""The Hub API's operations: what each call does to the world, and what it answers.

One method per call of :data:`aiospace._hub.routes.ROUTES` (runtime, hardware, sleep
time, pause, restart, dev mode, secrets, variables, storage, volumes, duplicate,
create, delete, ZeroGPU quota, Space info, listing, logs, whoami), taking the
already-authenticated user (None: anonymous) and validated arguments, and answering JSON-ready data written by
:mod:`~aiospace.emulator.encode`. Who may call what is :mod:`~aiospace.emulator.access`;
what then happens over time (builds, starts, sleeps) is
:mod:`~aiospace.emulator.lifecycle`. Creating a Space (:meth:`Operations.add_space`)
is here too: seeds, admins and ``duplicate`` share it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._hub.validate import check_description, check_key, check_repo_id, check_value
from ..models import SpaceHardware, SpaceStage, SpaceStorage
from . import encode
from .access import Access
from .encode import EXPAND_PROPERTIES, runtime_json
from .lifecycle import Lifecycle
from .pushes import signature
from .repo import AddFile, apply_operations, default_files, write_commit
from .state import (
    HARDWARE,
    INITIAL_STAGES,
    MAX_KEYS,
    MAX_LIKES,
    MAX_SLEEP_TIME,
    MAX_SPACES,
    STORAGE_ORDER,
    Behaviour,
    HubError,
    LogBuffer,
    Space,
    StoredSecret,
    StoredVariable,
    StoredVolume,
    is_free,
)
from .zerogpu import ZeroGpuQuotas

__all__ = ["Operations"]

# An SDK name: what a Space's README declares (gradio, streamlit, docker, static...).
_SDK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def _check_settings(sdk: object, stage: object, sleep_time: object, likes: object, **flags: object) -> None:
    """The settings of a new Space that would be the caller's mistake: a ``ValueError`` each."""
    if not isinstance(sdk, str) or not _SDK.fullmatch(sdk):
        raise ValueError("sdk must be a name such as 'gradio', 'docker' or 'static'")
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be a bool")
    if not isinstance(stage, str) or stage not in {s.value for s in INITIAL_STAGES}:
        known = ", ".join(sorted(s.value for s in INITIAL_STAGES))
        raise ValueError(f"stage {str(stage)[:100]!r} is not one a Space can start in ({known})")
    if sleep_time is not None and (
        isinstance(sleep_time, bool)
        or not isinstance(sleep_time, int)
        or not -1 <= sleep_time <= MAX_SLEEP_TIME
    ):
        raise ValueError(f"sleep_time must be null, -1 (never) or an int of seconds <= {MAX_SLEEP_TIME}")
    if isinstance(likes, bool) or not isinstance(likes, int) or not 0 <= likes <= MAX_LIKES:
        raise ValueError(f"likes must be an int within [0, {MAX_LIKES}]")


class Operations:
    """The Hub API's calls, applied to the Spaces of ``lifecycle`` under the rules of ``access``."""

    def __init__(self, lifecycle: Lifecycle, access: Access) -> None:
        self.lifecycle = lifecycle
        self.access = access
        #: Every user's ZeroGPU quota.
        self.zero_gpu = ZeroGpuQuotas()

    def _read(self, repo_id: str, user: str | None) -> Space:
        return self.access.readable(self.lifecycle.find(repo_id), repo_id, user)

    def _write(self, repo_id: str, user: str | None) -> Space:
        return self.access.writable(self.lifecycle.find(repo_id), repo_id, user)

    @staticmethod
    def _not_static(space: Space, what: str) -> None:
        if space.is_static:
            raise HubError(400, f"Cannot {what} a static Space")

    # ------------------------------------------------------------------ creating Spaces

    def add_space(
        self,
        repo_id: str,
        *,
        sdk: str = "gradio",
        private: bool = False,
        hardware: str | None = "cpu-basic",
        stage: str = "RUNNING",
        sleep_time: int | None = None,
        storage: str | None = None,
        dev_mode: bool = False,
        secrets: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        likes: int = 0,
        behaviour: Behaviour | Mapping[str, Any] | None = None,
        reason: str = "created",
        protected: bool = False,
        volumes: Iterable[StoredVolume] | None = None,
        files: Mapping[str, bytes | str] | None = None,
    ) -> Space:
        """Create a Space in ``stage`` (RUNNING, BUILDING, PAUSED, SLEEPING, or an error).

        Every argument is checked first (a wrong type or value is a ``ValueError``, a
        taken id a 409, an unknown flavor or tier a 400 :class:`HubError`): a Space
        that exists is one the emulator can answer about. ``protected``: its app is
        public, its files private (``private`` wins if both).
        ``files`` (str: UTF-8): its first commit's (default: a README.md card and the
        SDK's stand-in app file, which a ``NO_APP_FILE`` Space lacks).
        """
        check_repo_id(repo_id)
        if repo_id in self.lifecycle.spaces:
            raise HubError(
                409,
                f"You already created this space repo: {repo_id}",
                extra={"url": f"{{base}}/spaces/{repo_id}"},
            )
        _check_settings(
            sdk, stage, sleep_time, likes, private=private, dev_mode=dev_mode, protected=protected
        )
        if hardware is not None and (not isinstance(hardware, str) or hardware not in HARDWARE):
            raise HubError(400, f"Invalid hardware flavor: {str(hardware)[:100]}")
        mounted = [_normalized(volume) for volume in volumes or ()]
        if mounted and sdk == "static":
            raise HubError(400, "Volumes are not supported on static Spaces")
        if storage is not None and (not isinstance(storage, str) or storage not in STORAGE_ORDER):
            raise HubError(400, f"Invalid storage tier: {str(storage)[:100]}")
        stored_secrets = _stored(secrets, "secrets")
        stored_variables = _stored(variables, "variables")
        for name, stored in (("secrets", stored_secrets), ("variables", stored_variables)):
            if len(stored) > MAX_KEYS:
                raise HubError(400, f"A Space holds at most {MAX_KEYS} {name} in the emulator")
        if len(self.lifecycle.spaces) >= MAX_SPACES:
            raise HubError(400, f"The emulator holds at most {MAX_SPACES} Spaces")
        if isinstance(behaviour, Behaviour):
            behave = behaviour
        else:
            if behaviour is not None and not isinstance(behaviour, Mapping):
                raise ValueError("behaviour must map behaviour fields to values")
            behave = Behaviour()
            behave.update(behaviour or {})
        wanted = SpaceStage(stage)
        tree = _first_tree(repo_id, sdk, wanted, files)
        t = self.lifecycle.advance()
        flavor = None if sdk == "static" or hardware is None else SpaceHardware(hardware)
        space = Space(
            id=repo_id,
            sdk=sdk,
            private=private,
            created=t,
            behaviour=behave,
            requested=flavor,
            sleep_time=sleep_time,
            storage=None if storage is None else SpaceStorage(storage),
            dev_mode=dev_mode,
            last_modified=t,
            last_visit=t,
            last_hardware=flavor,
            likes=likes,
            files=tree,
            protected=protected and not private,
            volumes=mounted,
        )
        for key, (value, desc) in stored_secrets.items():
            space.secrets[key] = StoredSecret(value, desc, t)
        for key, (value, desc) in stored_variables.items():
            space.variables[key] = StoredVariable(value, desc, t)
        # its first commit: a git commit by its owner (a clone of it shows this id)
        who = signature(space.author, self.lifecycle.wall(t).timestamp())
        space.sha = write_commit(space.git, tree, None, who, "initial commit")
        self.lifecycle.add(space, wanted, reason)
        return space

    # ------------------------------------------------------------------ runtime and settings

    def runtime(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``GET .../runtime``."""
        return runtime_json(self._read(repo_id, user))

    def request_hardware(
        self, user: str | None, repo_id: str, flavor: str, sleep_time: int | None = None
    ) -> dict[str, Any]:
        """``POST .../hardware``."""
        space = self._write(repo_id, user)
        self._not_static(space, "change the hardware of")
        if flavor not in HARDWARE:
            raise HubError(400, f"Invalid hardware flavor: {flavor}")
        new = SpaceHardware(flavor)
        changed = new != space.requested
        space.requested = new
        if is_free(flavor):
            space.sleep_time = None
        elif sleep_time is not None:
            space.sleep_time = sleep_time
        if changed:
            self.lifecycle.record(space, self.lifecycle.now(), "hardware requested")
            self.lifecycle.settings_changed(space, "hardware change")
        elif space.stage == SpaceStage.RUNNING:
            self.lifecycle.arm_sleep(space)
        return runtime_json(space)

    def set_sleep_time(self, user: str | None, repo_id: str, seconds: int) -> dict[str, Any]:
        """``POST .../sleeptime`` (ignored on free hardware, as on the Hub)."""
        space = self._write(repo_id, user)
        self._not_static(space, "set the sleep time of")
        if not is_free(space.requested):
            space.sleep_time = seconds
            self.lifecycle.arm_sleep(space)
        return runtime_json(space)

    def pause(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``POST .../pause``."""
        space = self._write(repo_id, user)
        self._not_static(space, "pause")
        self.lifecycle.pause(space)
        return runtime_json(space)

    def restart(self, user: str | None, repo_id: str, factory: bool = False) -> dict[str, Any]:
        """``POST .../restart`` (``factory``: rebuild without cache, longer)."""
        space = self._write(repo_id, user)
        self._not_static(space, "restart")
        self.lifecycle.rebuild(space, "factory reboot" if factory else "restart", factory=factory)
        return runtime_json(space)

    def set_dev_mode(self, user: str | None, repo_id: str, enabled: bool) -> dict[str, Any]:
        """``POST .../dev-mode``."""
        space = self._write(repo_id, user)
        self._not_static(space, "set dev mode on")
        space.dev_mode = enabled
        return runtime_json(space)

    def request_storage(self, user: str | None, repo_id: str, tier: str) -> dict[str, Any]:
        """``POST .../storage`` (a downgrade is a 400: delete first, as on the Hub)."""
        space = self._write(repo_id, user)
        self._not_static(space, "add storage to")
        if tier not in STORAGE_ORDER:
            raise HubError(400, f"Invalid storage tier: {tier}")
        if space.storage is not None:
            if STORAGE_ORDER[tier] < STORAGE_ORDER.get(space.storage.value, 0):
                raise HubError(400, "Cannot downgrade persistent storage: delete it first")
            if space.storage.value == tier:
                return runtime_json(space)
        space.storage = SpaceStorage(tier)
        self.lifecycle.settings_changed(space, "storage change")
        return runtime_json(space)

    def delete_storage(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``DELETE .../storage`` (400 when the Space has none)."""
        space = self._write(repo_id, user)
        if space.storage is None:
            raise HubError(400, f"Space {repo_id} has no persistent storage")
        space.storage = None
        self.lifecycle.settings_changed(space, "storage deleted")
        return runtime_json(space)

    def set_volumes(self, user: str | None, repo_id: str, volumes: Iterable[StoredVolume]) -> dict[str, Any]:
        """``PUT .../volumes``: replace the Space's volumes (a change rebuilds; 400 on a static Space).

        An empty list unmounts every volume (not an error, unlike ``DELETE``) *(assumed)*.
        """
        space = self._write(repo_id, user)
        if space.is_static:
            raise HubError(400, "Volumes are not supported on static Spaces")
        mounted = [_normalized(volume) for volume in volumes]
        if mounted != space.volumes:
            space.volumes = mounted
            self.lifecycle.settings_changed(space, "volumes changed")
        return runtime_json(space)

    def delete_volumes(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``DELETE .../volumes``: unmount every volume (400 when the Space has none); rebuilds."""
        space = self._write(repo_id, user)
        if not space.volumes:
            raise HubError(400, f"Space {repo_id} has no volumes")
        space.volumes = []
        self.lifecycle.settings_changed(space, "volumes deleted")
        return runtime_json(space)

    # ------------------------------------------------------------------ secrets and variables

    def get_secrets(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``GET .../secrets``: keys, descriptions and dates, never values."""
        space = self._write(repo_id, user)
        return encode.secrets_json(space.secrets, self.lifecycle.wall)

    def add_secret(
        self, user: str | None, repo_id: str, key: str, value: str, description: str | None
    ) -> dict[str, Any]:
        """``POST .../secrets``: add or update (a changed description alone is kept)."""
        space = self._write(repo_id, user)
        old = space.secrets.get(key)
        if old is None and len(space.secrets) >= MAX_KEYS:
            raise HubError(400, f"A Space holds at most {MAX_KEYS} secrets in the emulator")
        if description is None and old is not None:
            description = old.description
        space.secrets[key] = StoredSecret(value, description, self.lifecycle.now())
        self.lifecycle.settings_changed(space, "secrets changed")
        return {}

    def delete_secret(self, user: str | None, repo_id: str, key: str) -> dict[str, Any]:
        """``DELETE .../secrets`` (a missing key is not an error)."""
        space = self._write(repo_id, user)
        if space.secrets.pop(key, None) is not None:
            self.lifecycle.settings_changed(space, "secrets changed")
        return {}

    def get_variables(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``GET .../variables``."""
        space = self._write(repo_id, user)
        return encode.variables_json(space.variables, self.lifecycle.wall)

    def add_variable(
        self, user: str | None, repo_id: str, key: str, value: str, description: str | None
    ) -> dict[str, Any]:
        """``POST .../variables``: add or update; answers all variables."""
        space = self._write(repo_id, user)
        old = space.variables.get(key)
        if old is None and len(space.variables) >= MAX_KEYS:
            raise HubError(400, f"A Space holds at most {MAX_KEYS} variables in the emulator")
        if description is None and old is not None:
            description = old.description
        space.variables[key] = StoredVariable(value, description, self.lifecycle.now())
        self.lifecycle.settings_changed(space, "variables changed")
        return encode.variables_json(space.variables, self.lifecycle.wall)

    def delete_variable(self, user: str | None, repo_id: str, key: str) -> dict[str, Any]:
        """``DELETE .../variables``; answers the remaining variables."""
        space = self._write(repo_id, user)
        if space.variables.pop(key, None) is not None:
            self.lifecycle.settings_changed(space, "variables changed")
        return encode.variables_json(space.variables, self.lifecycle.wall)

    # ------------------------------------------------------------------ duplicate

    def duplicate(
        self,
        user: str | None,
        from_id: str,
        to_id: str,
        *,
        private: bool | None = None,
        hardware: str | None = None,
        storage: str | None = None,
        sleep_time: int | None = None,
        secrets: Iterable[Mapping[str, Any]] = (),
        variables: Iterable[Mapping[str, Any]] = (),
        visibility: str | None = None,
        volumes: Iterable[StoredVolume] | None = None,
    ) -> Space:
        """``POST .../duplicate``: a new Space owned by ``to_id``'s namespace, building.

        It copies the source's SDK, visibility, variables and volumes (``volumes``
        replaces them *(assumed)*); ``visibility`` wins over ``private``.
        """
        source = self._read(from_id, user)
        self.access.check_create(to_id.split("/", 1)[0], user)
        if to_id in self.lifecycle.spaces:
            raise HubError(
                409,
                f"You already created this space repo: {to_id}",
                extra={"url": f"{{base}}/spaces/{to_id}"},
            )
        flavor = None if source.is_static else (hardware or "cpu-basic")
        if flavor is not None and flavor not in HARDWARE:
            raise HubError(400, f"Invalid hardware flavor: {flavor}")
        new_vars: dict[str, Any] = {
            k: {"value": v.value, "description": v.description} for k, v in source.variables.items()
        }
        new_vars.update({item["key"]: dict(item) for item in variables})
        if visibility is not None:
            private = visibility == "private"
            protected = visibility == "protected"
        else:
            protected = source.protected if private is None else False
        return self.add_space(
            to_id,
            sdk=source.sdk,
            private=source.private if private is None else private,
            protected=protected,
            volumes=source.volumes if volumes is None else volumes,
            hardware=flavor,
            stage="BUILDING",
            sleep_time=None if flavor is None or is_free(flavor) else sleep_time,
            storage=storage,
            secrets={item["key"]: dict(item) for item in secrets},
            variables=new_vars,
            behaviour=attrs.evolve(source.behaviour),
            reason=f"duplicated from {from_id}",
            files=source.files,
        )

    # ------------------------------------------------------------------ create, delete

    def create_space(
        self,
        user: str | None,
        repo_id: str,
        *,
        sdk: str,
        visibility: str | None = None,
        hardware: str | None = None,
        sleep_time: int | None = None,
        secrets: Iterable[Mapping[str, Any]] = (),
        variables: Iterable[Mapping[str, Any]] = (),
        volumes: Iterable[StoredVolume] = (),
        files: Mapping[str, bytes] | None = None,
    ) -> Space:
        """``POST /api/repos/create``: a new Space in the caller's namespace or one of their orgs'.

        409 if it exists (with its ``url``). A static Space runs at once and builds
        nothing; any other builds (the emulator gives it a stand-in app) on
        ``hardware`` (default ``cpu-basic``). The sleep time is kept on paid hardware only.
        ``files`` (the JavaScript client's ``createRepo({files})``) go over the stand-ins.
        """
        namespace = repo_id.split("/", 1)[0]
        self.access.check_create(namespace, user, "create a Space")
        static = sdk == "static"
        flavor = None if static else (hardware or "cpu-basic")
        if flavor is not None and flavor not in HARDWARE:
            raise HubError(400, f"Invalid hardware flavor: {flavor}")
        return self.add_space(
            repo_id,
            sdk=sdk,
            private=visibility == "private",
            protected=visibility == "protected",
            hardware=flavor,
            stage="RUNNING" if static else "BUILDING",
            sleep_time=None if flavor is None or is_free(flavor) else sleep_time,
            secrets={item["key"]: dict(item) for item in secrets},
            variables={item["key"]: dict(item) for item in variables},
            volumes=volumes,
            reason=f"created by {user}",
            files=None if not files else {**default_files(repo_id, sdk), **files},
        )

    def delete_space(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``DELETE /api/repos/delete``: the Space is gone (404 if missing or hidden; 403 to others).

        Its log streams end, and so do watches of it: their next poll is a 404.
        """
        self._write(repo_id, user)
        self.lifecycle.remove(repo_id)
        return {}

    # ------------------------------------------------------------------ ZeroGPU

    def zero_gpu_quota(self, user: str | None) -> dict[str, Any]:
        """``GET /api/spaces/zero-gpu/quota``: the caller's quota (401 without a token)."""
        if user is None:
            raise HubError(401, "A valid token is required to read the ZeroGPU quota")
        usage = self.zero_gpu.get(user, self.lifecycle.advance())
        return encode.zero_gpu_quota_json(usage, self.lifecycle.wall)

    # ------------------------------------------------------------------ info, listing, logs, whoami

    def space_info(self, user: str | None, repo_id: str, expand: Iterable[str] = ()) -> dict[str, Any]:
        """``GET /api/spaces/{repo_id}`` (a protected Space lists its files to writers only)."""
        space = self._read(repo_id, user)
        info = self.info_json(space, list(expand), full=True)
        if "siblings" in info and space.protected and not self.access.can_write(space, user):
            info["siblings"] = []
        return info

    def list_spaces(
        self,
        user: str | None,
        *,
        author: str | None = None,
        search: str | None = None,
        expand: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """``GET /api/spaces`` (all pages; the app paginates)."""
        self.lifecycle.advance()
        wanted = list(expand)
        needle = (search or "").lower()
        return [
            self.info_json(space, wanted, full=False)
            for space in self.lifecycle.spaces.values()
            if self.access.can_read(space, user)
            and (author is None or space.author == author)
            and needle in space.id.lower()
        ]

    def info_json(self, space: Space, expand: list[str], *, full: bool) -> dict[str, Any]:
        """A Space's info: all properties, or ``id`` plus the ``expand``-ed ones (400 if unknown)."""
        unknown = [e for e in expand if e not in EXPAND_PROPERTIES]
        if unknown:
            raise HubError(400, f"Invalid expand value(s): {', '.join(unknown)}")
        return encode.space_info_json(space, self.lifecycle.wall, expand, full=full)

    def logs(self, user: str | None, repo_id: str, build: bool) -> tuple[Space, LogBuffer]:
        """The Space and the log buffer a log stream replays and follows."""
        space = self._read(repo_id, user)
        return space, space.build_log if build else space.run_log

    def whoami(self, user: str | None) -> dict[str, Any]:
        """``GET /api/whoami-v2`` (used by the official client's duplicate)."""
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return encode.whoami_json(user, self.access.orgs_of(user))


def _first_tree(
    repo_id: str, sdk: str, stage: SpaceStage, files: Mapping[str, bytes | str] | None
) -> dict[str, bytes]:
    """A new Space's files: ``files`` (checked as a push's, else ``ValueError``), or stand-ins for ``sdk``."""
    if files is None:
        return default_files(repo_id, sdk, with_app=stage != SpaceStage.NO_APP_FILE)
    if not isinstance(files, Mapping) or not all(isinstance(c, (str, bytes)) for c in files.values()):
        raise ValueError("files must map paths to contents (text or bytes)")
    adds = [AddFile(str(path), c.encode() if isinstance(c, str) else c) for path, c in files.items()]
    try:
        return apply_operations({}, adds)
    except HubError as err:
        raise ValueError(f"files: {err.message}") from None


def _stored(items: Any, argument: str) -> dict[str, tuple[str, str | None]]:
    """A seed's secrets or variables: ``{KEY: value}`` or ``{KEY: {"value", "description"?}}``."""
    if items is None:
        return {}
    if not isinstance(items, Mapping):
        raise ValueError(f"{argument} must map keys to values")
    out: dict[str, tuple[str, str | None]] = {}
    for key, item in items.items():
        check_key(key, f"{argument} key")
        out[key] = _key_value(item, f"{argument}.{key}")
    return out


def _key_value(item: Any, argument: str) -> tuple[str, str | None]:
    """A secret's or variable's value and description: a plain value, or ``{"value", "description"?}``."""
    if isinstance(item, Mapping):
        unknown = set(item) - {"key", "value", "description"}
        if unknown:
            raise ValueError(
                f"{argument}: unknown key(s) {', '.join(sorted(map(repr, map(str, unknown))))[:200]}"
            )
        return check_value(item.get("value"), argument), check_description(
            item.get("description"), f"{argument}.description"
        )
    return check_value(item, argument), None


def _normalized(volume: StoredVolume) -> StoredVolume:
    """A volume as the Hub keeps it: repositories are always mounted read-only."""
    if volume.type != "bucket" and not volume.read_only:
        return attrs.evolve(volume, read_only=True)
    return volume
