"""The floors of batchemu (docs/architecture.md, "Floors"): every import between two parts of the
package points down, read from the source with `ast` (nothing is imported). A part may import
itself and any part on a lower floor; parts on one floor never import each other.

Also held here: no import inside a function unless it is lazy for start-up time and says so
(an import written late is how a loop hides), and no HTTP library reachable from the Batch and
Logs semantics or anything below them.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "batchemu"

# Bottom first. A part is a top-level module or subpackage of batchemu (`batchemu` itself is
# its __init__: the version). job_states, job_endpoint and emulator are the places the other
# parts of issue 14 give the transition tables, JobEndpoint and the composition root.
FLOORS = (
    ("batchemu", "context", "config"),       # who asks, the options
    ("vocabulary", "job_states"),             # ARNs, resource lifecycle, job statuses, reasons
    ("wire", "store", "runners"),             # protocol; SQLite; containers and processes
    ("engine",),                              # the job engine: store + runners
    ("batch", "logs", "services", "job_endpoint",   # Batch and Logs operations; moto; job endpoint;
     "ecs_clusters", "cloudformation",              # compute environments' ECS clusters, CFN resources in moto,
     "stepfunctions", "lambdas"),                   # moto's state machines running Batch tasks here; Lambda in Docker
    ("events", "fault_routes", "ui", "task_metadata",  # events (EventBridge, SSE); fault injection; dashboard
     "pipelines", "reset_routes"),                    # files; ECS task metadata; EventBridge targets, S3
                                                      # events, schedules over moto; the reset routes
    ("app", "server"),                        # Flask app over the frontends; HTTP/1.1 server
    ("emulator", "fault_client"),             # the composition root; `batchemu fault`'s HTTP client
    ("cli", "testing"),                       # entry points
    ("__main__", "pytest_plugin"),            # python -m batchemu; the pytest plugin (pytest11)
)
FLOOR = {part: level for level, parts in enumerate(FLOORS) for part in parts}

# Parts that know no HTTP: no Flask, Werkzeug or waitress may be reachable from them.
NO_HTTP = ("vocabulary", "wire.spec", "wire.errors", "store", "runners", "engine", "batch", "logs")
HTTP_LIBRARIES = ("flask", "werkzeug", "waitress")

# Modules whose imports may reach HTTP although their part may not, with why. Keep it short.
HTTP_EXCEPTIONS: dict = {}  # module -> why it may reach HTTP (none today: the composition root builds every frontend)


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def read_package(root: pathlib.Path = PACKAGE) -> dict[str, str]:
    """{dotted module name: source} for every .py file of the package."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        names = ("batchemu",) + path.relative_to(root).with_suffix("").parts
        if names[-1] == "__init__":
            names = names[:-1]
        out[".".join(names)] = path.read_text(encoding="utf-8")
    return out


def imports(module: str, source: str, modules) -> list[tuple[str, int, bool, str]]:
    """(imported module, line, inside a function, the line's text) for every import in `source`.
    `from a import b` counts as importing a.b when that is a module, else a."""
    tree = ast.parse(source)
    lines = source.splitlines()
    package = module if _is_package(module, modules) else module.rpartition(".")[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[:len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in child.names]
            else:
                visit(child, nested)
                continue
            # The import and the comments and imports written right above it.
            top = child.lineno - 1
            while top > 0 and lines[top - 1].strip().startswith(("#", "from ", "import ")):
                top -= 1
            text = "\n".join(lines[top:child.end_lineno])
            found.extend((target, child.lineno, in_function, text) for target in dict.fromkeys(targets))
    visit(tree, False)
    return found


def _is_package(module: str, modules) -> bool:
    return any(other.startswith(module + ".") for other in modules)


def floor_violations(modules: dict[str, str]) -> list[str]:
    out = []
    for module, source in modules.items():
        here = part_of(module)
        if here not in FLOOR:
            out.append(f"{module}: batchemu.{here} is on no floor; "
                       "add it to FLOORS (and docs/architecture.md)")
            continue
        for target, line, _, _ in imports(module, source, modules):
            if not target.startswith("batchemu"):
                continue
            there = part_of(target)
            if there == here:
                continue
            if there not in FLOOR or FLOOR[there] >= FLOOR[here]:
                out.append(f"{module}:{line} imports {target}: {here} (floor {FLOOR[here]}) may only import "
                           f"floors below it, and {there} is on floor {FLOOR.get(there, '?')}")
    return out


def late_import_violations(modules: dict[str, str]) -> list[str]:
    """An import inside a function must say, in a comment on it or on the line above, that it
    is lazy (for start-up time); anything else is to be written at the top of the module."""
    out = []
    for module, source in modules.items():
        for target, line, in_function, text in imports(module, source, modules):
            if in_function and "lazy" not in text.lower():
                out.append(f"{module}:{line} imports {target} inside a function without saying why "
                           "(a '# lazy ...' comment for start-up time; else import it at the top)")
    return out


def http_violations(modules: dict[str, str], exceptions=HTTP_EXCEPTIONS) -> list[str]:
    """Module-level imports only (a lazy import runs on the path that asks for it)."""
    graph = {module: [(target, line) for target, line, late, _ in imports(module, source, modules) if not late]
             for module, source in modules.items()}

    def reached(start):
        """{module reached: the chain that reaches it}, following imports (and the packages
        each imported module's name runs through) but not those of the `exceptions`."""
        seen = {start: [start]}
        todo = [start]
        while todo:
            module = todo.pop()
            for target, _ in (() if module in exceptions and module != start else graph.get(module, ())):
                names = target.split(".")
                for n in range(1, len(names) + 1):
                    step = ".".join(names[:n])
                    if step in seen:
                        continue
                    seen[step] = seen[module] + [step]
                    if step in graph:
                        todo.append(step)
        return seen

    out = []
    for module in modules:
        if module in exceptions or not any(module == f"batchemu.{p}" or module.startswith(f"batchemu.{p}.")
                                           for p in NO_HTTP):
            continue
        for target, chain in reached(module).items():
            if target in HTTP_LIBRARIES:
                out.append(f"{module} reaches {target} (HTTP): {' -> '.join(chain)}")
    return out


@pytest.fixture(scope="module")
def package():
    return read_package()


def test_every_import_points_down(package):
    assert floor_violations(package) == []


def test_no_import_is_written_late_to_dodge_a_loop(package):
    assert late_import_violations(package) == []


def test_semantics_and_below_know_no_http(package):
    assert http_violations(package) == []


def test_every_http_exception_is_still_needed(package):
    for module in HTTP_EXCEPTIONS:
        assert any(v.startswith(f"{module} reaches") for v in http_violations(package, exceptions={})), \
            f"{module} no longer reaches HTTP: remove it from HTTP_EXCEPTIONS"


# -- the checks themselves fail on what they forbid -----------------------------------------

FAKE = {
    "batchemu": "",
    "batchemu.context": "",
    "batchemu.vocabulary": "",
    "batchemu.vocabulary.arns": "from batchemu.context import RequestContext\n",
    "batchemu.store": "",
    "batchemu.store.logs": "",
    "batchemu.engine": "",
    "batchemu.engine.scheduler": ("from batchemu.store.logs import LogTables\n"
                                  "from batchemu.vocabulary import arns\n"),
    "batchemu.logs": "",
    "batchemu.logs.tables": "from batchemu.engine import scheduler\n",
    "batchemu.batch": "",
    "batchemu.batch.jobs": "from batchemu.engine import scheduler\n",
}


def test_an_upward_import_is_refused():
    assert floor_violations(FAKE) == []
    upward = dict(FAKE, **{"batchemu.engine.scheduler": "from batchemu.batch import jobs\n"})
    assert floor_violations(upward) == [
        "batchemu.engine.scheduler:1 imports batchemu.batch.jobs: engine (floor 3) may only import "
        "floors below it, and batch is on floor 4"]
    relative = dict(FAKE, **{"batchemu.vocabulary.arns": "from ..store import logs\n"})
    assert [v.split(":")[0] for v in floor_violations(relative)] == ["batchemu.vocabulary.arns"]


def test_siblings_on_one_floor_do_not_import_each_other():
    sideways = dict(FAKE, **{"batchemu.batch.jobs": "from batchemu.logs import tables\n"})
    assert len(floor_violations(sideways)) == 1


def test_a_part_on_no_floor_is_refused():
    assert floor_violations(dict(FAKE, **{"batchemu.newpart": ""})) == [
        "batchemu.newpart: batchemu.newpart is on no floor; add it to FLOORS (and docs/architecture.md)"]


def test_a_late_import_must_say_it_is_lazy():
    late = dict(FAKE, **{"batchemu.engine.scheduler": (
        "def tick():\n    from batchemu.logs.tables import LogTables  # imported late (logs imports engine)\n")})
    assert late_import_violations(late) == [
        "batchemu.engine.scheduler:2 imports batchemu.logs.tables inside a function without saying why "
        "(a '# lazy ...' comment for start-up time; else import it at the top)"]
    lazy = dict(FAKE, **{"batchemu.engine.scheduler": (
        "def tick():\n    # lazy for start-up time: docker costs 100 ms\n    import docker\n")})
    assert late_import_violations(lazy) == []


def test_http_reached_through_another_module_is_refused():
    web = dict(FAKE, **{"batchemu.store.logs": "import flask\n"})
    assert ("batchemu.engine.scheduler reaches flask (HTTP): batchemu.engine.scheduler -> batchemu.store.logs "
            "-> flask") in http_violations(web)
