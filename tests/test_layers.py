"""The domain core stays pure: no I/O, no clock, no SQLAlchemy, no CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_DOMAIN = {
    "sqlalchemy", "alembic", "click", "rich", "yaml", "pydantic", "holidays", "transitions",
    "psycopg", "os", "io", "pathlib", "subprocess", "socket", "time", "random", "sqlite3",
    "engine.store", "engine.service", "cli",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_domain_imports_nothing_impure() -> None:
    for path in sorted((ROOT / "engine" / "domain").glob("*.py")):
        for name in imports_of(path):
            for bad in FORBIDDEN_IN_DOMAIN:
                assert not (name == bad or name.startswith(bad + ".")), f"{path.name}: {name}"


def test_the_domain_never_reads_the_clock() -> None:
    for path in sorted((ROOT / "engine" / "domain").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for call in ("datetime.now(", "date.today(", "datetime.utcnow(", "time.time("):
            assert call not in text, f"{path.name} calls {call}"


def test_only_the_statemachine_module_imports_transitions() -> None:
    users = [
        p.relative_to(ROOT).as_posix()
        for p in [*sorted(ROOT.glob("engine/**/*.py")), ROOT / "cli.py"]
        if any(n == "transitions" or n.startswith("transitions.") for n in imports_of(p))
    ]
    assert users == ["engine/statemachine.py"]


def test_a_quick_command_does_not_load_the_heavy_libraries() -> None:
    code = (
        "import sys, cli, engine.service, engine.present;"
        "heavy = [m for m in ('transitions', 'alembic', 'holidays', 'yaml', 'pydantic',"
        " 'jinja2', 'apscheduler', 'tomllib')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ""
