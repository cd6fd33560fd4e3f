"""The house's rules, checked on the source: layers point one way, the domain stays pure,
notifications stand on their own, no import cycles, only the state machine imports
`transitions`, nobody reaches into another module's underscored names, handler modules stay
small, and a quick command loads nothing heavy."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "workflows", "notifications")
FORBIDDEN_IN_DOMAIN = {
    "sqlalchemy", "alembic", "click", "rich", "yaml", "pydantic", "holidays", "transitions",
    "psycopg", "jinja2", "apscheduler", "os", "io", "pathlib", "subprocess", "socket", "time",
    "random", "sqlite3", "engine.store", "engine.app", "engine.bootstrap",
    "engine.statemachine", "engine.scheduler", "notifications", "workflows", "cli",
}
HANDLER_LINES = 400


def project_files() -> list[Path]:
    files = [ROOT / "cli.py"]
    for package in PACKAGES:
        files += [p for p in sorted((ROOT / package).rglob("*.py"))
                  if "migrations" not in p.parts]
    return files


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in project_files()}


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (inside functions too), `from a import b` giving a.b
    when b is a module of the project, else a."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" \
        else module_name(path)
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if sub in modules() else base)
    return found


def project_imports(path: Path) -> set[str]:
    return {m for m in imports_of(path) if m in modules()}


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


# --- layers ------------------------------------------------------------------------------------
def test_the_domain_imports_nothing_impure() -> None:
    for path in sorted((ROOT / "engine" / "domain").glob("*.py")):
        for name in imports_of(path):
            for bad in FORBIDDEN_IN_DOMAIN:
                assert not under(name, bad), f"{path.name} imports {name}"


def test_the_domain_never_reads_the_clock() -> None:
    for path in sorted((ROOT / "engine" / "domain").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for call in ("datetime.now(", "date.today(", "datetime.utcnow(", "time.time("):
            assert call not in text, f"{path.name} calls {call}"


def test_notifications_import_nothing_from_the_engine() -> None:
    for path in project_files():
        if under(module_name(path), "notifications"):
            for name in imports_of(path):
                for other in ("engine", "workflows", "cli"):
                    assert not under(name, other), f"{module_name(path)} imports {name}"


def test_layers_point_one_way() -> None:
    """domain ← store ← app ← doors (cli, scheduler, demo): nothing imports a layer above."""
    above = {
        "engine.store": ("engine.app", "engine.bootstrap", "engine.scheduler", "engine.demo",
                         "engine.web", "cli", "notifications"),
        "engine.app": ("engine.bootstrap", "engine.scheduler", "engine.demo", "engine.web",
                       "cli"),
        "engine.config": ("engine.app", "engine.store", "engine.bootstrap", "cli"),
        "workflows": ("engine", "notifications", "cli"),  # data only
    }
    for path in project_files():
        me = module_name(path)
        for layer, forbidden in above.items():
            if under(me, layer):
                for name in project_imports(path):
                    assert not any(under(name, f) for f in forbidden), f"{me} imports {name}"


def test_no_import_cycles_among_project_modules() -> None:
    graph = {m: project_imports(p) - {m} for m, p in modules().items()}
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if seen.get(n) == 1:
                cycle = [*stack[stack.index(n):], n]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if n not in seen:
                visit(n)
        stack.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m)


def test_only_the_statemachine_module_imports_transitions() -> None:
    users = [module_name(p) for p in project_files()
             if any(under(n, "transitions") for n in imports_of(p))]
    assert users == ["engine.statemachine"]


# --- modules keep their insides ------------------------------------------------------------------
def test_no_module_reaches_into_another_modules_underscored_names() -> None:
    """`from m import _x`, `m._x` on an imported module, and `obj._x` on anything but self,
    cls or an instance the module's own class made, are all refused."""
    problems = []
    for path in project_files():
        me = module_name(path)
        aliases: set[str] = set()
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module.split(".")[0] in (*PACKAGES, "cli")):
                for a in node.names:
                    if a.name.startswith("_"):
                        problems.append(f"{me}: from {node.module} import {a.name}")
                    if f"{node.module}.{a.name}" in modules():
                        aliases.add(a.asname or a.name)
            elif isinstance(node, ast.Import):
                aliases.update((a.asname or a.name).split(".")[0] for a in node.names)
        own = {n.name for n in ast.walk(tree(path)) if isinstance(n, ast.ClassDef)}
        for node in ast.walk(tree(path)):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                continue
            base = node.value
            if isinstance(base, ast.Name):
                if base.id in aliases or (base.id not in ("self", "cls", *own)
                                          and not _local_instance(tree(path), base.id, own)):
                    problems.append(f"{me}:{node.lineno}: {base.id}.{node.attr}")
            else:  # something else's insides: a.b._c, f()._c
                problems.append(f"{me}:{node.lineno}: {ast.unparse(node)}")
    assert problems == []


def _local_instance(module: ast.Module, name: str, classes: set[str]) -> bool:
    """Whether `name` is bound somewhere in the module to an instance of its own classes (a
    class reaching into another instance of itself, e.g. in `__eq__`)."""
    for node in ast.walk(module):
        if isinstance(node, ast.arg) and node.arg == name and node.annotation is not None:
            text = ast.unparse(node.annotation)
            if any(c in text for c in classes):
                return True
    return False


def test_handler_modules_stay_small() -> None:
    for path in sorted((ROOT / "engine" / "app").glob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= HANDLER_LINES, f"{path.name}: {lines} lines"


# --- start-up ------------------------------------------------------------------------------------
def test_a_quick_command_does_not_load_the_heavy_libraries() -> None:
    code = (
        "import sys, cli, engine.bootstrap, engine.app.issues, engine.present;"
        "heavy = [m for m in ('transitions', 'alembic', 'holidays', 'yaml', 'pydantic',"
        " 'jinja2', 'apscheduler', 'tomllib', 'openpyxl', 'fastapi', 'starlette', 'uvicorn',"
        " 'argon2', 'sqlalchemy.dialects.postgresql', 'notifications.contexts', 'engine.web',"
        " 'engine.app.stats', 'engine.app.ledger', 'engine.ledger_sheet')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ""


def test_reading_no_configuration_file_loads_no_schema_library(tmp_path: Path) -> None:
    """A command that tells people reads the notification configuration; without a file that
    costs nothing heavy (pydantic checks a file only when there is one)."""
    code = ("import sys, notifications.config as c; c.load(None);"
            "print('pydantic' in sys.modules, 'jinja2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["False", "False"]
