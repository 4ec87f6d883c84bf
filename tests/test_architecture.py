"""The layout the architecture promises: imports go downward, the emulator owns its encoding,
every deliberate error is ours and survives pickling."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import pytest

import aiospace
from aiospace import errors
from aiospace.models import SpaceRuntime, SpaceStage

PACKAGE = Path(aiospace.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """The aiospace modules ``path`` imports when run (``if TYPE_CHECKING:`` blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("aiospace"):
                for alias in node.names:  # `from . import watch` imports a module, not the package
                    if (PACKAGE.parent / (module.replace(".", "/") + f"/{alias.name}.py")).exists():
                        found.add(f"{module}.{alias.name}")
                    else:
                        found.add(module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("aiospace"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return found


GRAPH = {_module_name(p): _runtime_imports(p) for p in PACKAGE.rglob("*.py")}


def test_the_import_graph_has_no_cycle() -> None:
    state: dict[str, int] = {}

    def walk(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if target not in GRAPH:
                continue
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join([*stack, module, target]))
            if state.get(target) is None:
                walk(target, [*stack, module])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            walk(module, [])


# The layers, bottom up: a module may import its own layer and the ones below it. Inside a
# layer any order goes, as long as there is no cycle (checked above).
LAYERS = [
    ("aiospace.__about__", "aiospace.models", "aiospace.errors", "aiospace._clock", "aiospace._hub.routes"),
    ("aiospace._hub.validate",),
    ("aiospace._hub",),  # the rest of the sans-I/O Hub layer
    ("aiospace._http",),
    ("aiospace.engine",),
    ("aiospace.client",),
    ("aiospace.cli",),
]


def _layer_of(module: str) -> int | None:
    """The layer of the longest prefix that names ``module`` (or a package above it)."""
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), index)
    return None if best is None else best[1]


#: The CLI may start the emulator (``aiospace demo``, ``aiospace emulator``): it stands beside the client.
EMULATOR = {m for m in GRAPH if m.startswith("aiospace.emulator")}


def test_every_module_has_a_layer() -> None:
    loose = [m for m in GRAPH if _layer_of(m) is None]
    assert set(loose) <= {"aiospace", "aiospace.pytest_plugin", *EMULATOR}, loose


def test_layers_import_downward_only() -> None:
    for module, imports in GRAPH.items():
        layer = _layer_of(module)
        if layer is None:
            continue
        for target in imports:
            if target in EMULATOR and module.startswith("aiospace.cli"):
                continue
            target_layer = _layer_of(target)
            assert target_layer is not None and target_layer <= layer, f"{module} imports {target} from above"


def test_the_engine_uses_the_public_surface_only() -> None:
    """The engine is typed on the client's ``HubClient`` Protocol: of the HTTP layer it may use the
    rate budget, never the transport (nor paging, log streams...)."""
    for module, imports in GRAPH.items():
        if module.startswith("aiospace.engine"):
            assert not {i for i in imports if i.startswith(("aiospace._hub.", "aiospace._http."))} - {
                "aiospace._hub.validate",
                "aiospace._hub.retry",
                "aiospace._hub.headers",
                "aiospace._http.budget",  # the rate budget a watch spends, and the Exchange it hears
            }, module
            path = PACKAGE.parent / (module.replace(".", "/") + ".py")
            if path.exists():
                _assert_no_private_client_use(path)


def _assert_no_private_client_use(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    private = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and (
            (isinstance(node.value, ast.Attribute) and node.value.attr == "client")
            or (isinstance(node.value, ast.Name) and node.value.id == "client")
        )
    }
    assert not private, f"{path.name} touches the client's private {sorted(private)}"


#: What the emulator may share with the client: the foundations, the route table and the checks.
EMULATOR_SHARES = {
    "aiospace",
    "aiospace.__about__",
    "aiospace.models",
    "aiospace.errors",
    "aiospace._clock",
    "aiospace._hub.routes",
    "aiospace._hub.validate",
}


def test_the_emulator_owns_its_encoding() -> None:
    for module, imports in GRAPH.items():
        if module.startswith("aiospace.emulator"):
            shared = {i for i in imports if not i.startswith("aiospace.emulator")}
            assert shared <= EMULATOR_SHARES, (module, sorted(shared - EMULATOR_SHARES))


@pytest.mark.parametrize(
    "error",
    [
        errors.InvalidArgumentError("timeout", "must be >= 0"),
        errors.SpaceNotFoundError(404, "Repository not found", error_code="RepoNotFound", repo_id="a/b"),
        errors.RateLimitedError(429, "slow down", retry_after=3.0, repo_id="a/b", method="GET", path="/x"),
        errors.ServerError(503, "busy", retry_after=None, request_id="r1"),
        errors.TransportError("cut", repo_id="a/b", sent=False),
        errors.RequestTimeoutError("no answer", path="/api/spaces/a/b/runtime"),
        errors.SpaceFailedError(
            "a/b", SpaceRuntime(SpaceStage.BUILD_ERROR, raw={"stage": "BUILD_ERROR"}), ["x"]
        ),
        errors.WaitTimeoutError("a/b", 60.0, SpaceRuntime(SpaceStage.BUILDING)),
        errors.WaitTimeoutError("a/b", 120.0, SpaceRuntime(SpaceStage.RUNNING), reason="no build began"),
        errors.SpaceStalledError(
            "a/b", SpaceRuntime(SpaceStage.BUILDING), ["Building..."], stalled_for=1800.0, rebooted=True
        ),
        errors.RevisionSupersededError(
            "a/b", "a" * 40, "b" * 40, runtime=SpaceRuntime(SpaceStage.RUNNING_BUILDING), log_lines=["x"]
        ),
        errors.SpaceNotStartingError("a/b", SpaceRuntime(SpaceStage.PAUSED), "a restart would move it"),
        errors.LeaseReleaseError(
            "a/b", "restore cpu-basic", "a100-large", 5, "ServerError: 503", SpaceRuntime(SpaceStage.RUNNING)
        ),
        errors.DeliveryError("https://example.com/hook", "answered 500 after 4 attempts", status=500),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_survive_pickle(error: errors.AiospaceError) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert again.__dict__ == error.__dict__


def test_every_exported_error_is_ours() -> None:
    exported = [getattr(aiospace, name) for name in aiospace.__all__]
    classes = [obj for obj in exported if isinstance(obj, type) and issubclass(obj, BaseException)]
    assert classes and all(issubclass(cls, aiospace.AiospaceError) for cls in classes)


def test_the_client_is_what_the_engine_is_typed_on() -> None:
    """``SpaceClient`` satisfies the engine's ``HubClient`` Protocol: the assignment below is
    checked by mypy (as is every door of the client, which hands ``self`` to the engine), and
    each member has the Protocol's parameters (names, kinds, defaults)."""
    import inspect

    from aiospace.engine._client import HubClient

    client: HubClient = aiospace.SpaceClient(token=False)
    members = [name for name in vars(HubClient) if not name.startswith("_")]
    assert {"clock", "budget", "redact", "backoff", "subscribe", "get_space_runtime"} <= set(members)
    for name in members:
        wanted = getattr(HubClient, name)
        found = getattr(type(client), name)
        if isinstance(wanted, property):
            assert isinstance(found, property), name
            continue

        def shape(function: object) -> list[tuple[str, object, object]]:
            parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
            return [(p.name, p.kind, p.default) for p in parameters]

        assert shape(found) == shape(wanted), name
        assert inspect.iscoroutinefunction(found) == inspect.iscoroutinefunction(wanted), name


def test_the_public_surface_is_small_and_whole() -> None:
    assert len(aiospace.__all__) <= 40
    assert all(hasattr(aiospace, name) for name in aiospace.__all__)


def test_readme_docs_and_examples_use_public_names_only() -> None:
    root = PACKAGE.parent
    texts = [root / "README.md", *(root / "docs").glob("*.md"), *(root / "examples").glob("*.py")]
    private = re.compile(r"\b(?:from|import)\s+aiospace(?:\.\w+)*\._\w+")
    offenders = [path.name for path in texts if private.search(path.read_text(encoding="utf-8"))]
    assert not offenders, f"import private aiospace modules: {offenders}"


#: The size rules: lines of a module, a function, a class.
MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_CLASS_LINES = 700, 100, 500


def test_no_module_function_or_class_outgrows_its_size() -> None:
    too_big: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(PACKAGE.parent)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_big.append(f"{where}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > limit:
                    too_big.append(f"{where}: {node.name} is {size} lines (at most {limit})")
    assert too_big == []
