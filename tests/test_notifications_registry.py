"""The channel registry, and how the notifications package hangs together: every registered
type builds, a new type needs only a registry entry, no module imports the engine (but the
dispatcher, for now), and no import goes round in a circle."""

from __future__ import annotations

import ast
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import notifications.channels as channels
from notifications.channels import REGISTRY, TYPES, Channel, Settings, build
from notifications.config import parse
from notifications.delivery import Pacer, build_channels, deliver
from notifications.errors import ConfigError
from notifications.message import Outgoing, Recipient
from notifications.render import Renderer, sample_context

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "notifications"

MINIMAL: dict[str, dict[str, Any]] = {
    "smtp": {"host": "127.0.0.1", "sender": "zhenggai@huangjia.example"},
    "webhook": {"url": "https://hooks.huangjia.example/in"},
    "dingtalk": {"url": "https://oapi.dingtalk.com/robot/send?access_token=t"},
    "wecom": {"key": "k"},
    "file": {"path": "sent.jsonl"},
    "console": {},
}
"""The least each type needs: a new type must be added here too, or this test fails."""


def test_the_types_are_the_registry() -> None:
    assert TYPES == tuple(REGISTRY) == ("smtp", "webhook", "dingtalk", "wecom", "file", "console")
    assert set(MINIMAL) == set(TYPES)


@pytest.mark.parametrize("kind", TYPES)
def test_every_registered_type_builds(kind: str, tmp_path: Path) -> None:
    settings = {"type": kind, **MINIMAL[kind]}
    if kind == "file":
        settings["path"] = str(tmp_path / "sent.jsonl")
    channel = build(f"my-{kind}", settings, {})
    assert isinstance(channel, Channel)
    assert channel.name == f"my-{kind}"
    assert type(channel).__module__ == f"notifications.channels.{kind}"
    assert isinstance(channel.dedupes, bool)
    assert channel.per_minute is None or channel.per_minute > 0
    # and the configuration accepts it as a type
    cfg = parse({"channels": {f"my-{kind}": settings}})
    assert isinstance(build_channels(cfg, {})[f"my-{kind}"], type(channel))


@dataclass
class PigeonChannel:
    """A channel type of the test's own: keeps what it is sent."""

    name: str
    loft: str
    per_minute: int | None = None
    dedupes: bool = False
    sent: list[Outgoing] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> PigeonChannel:
        return cls(settings.channel, settings.text("loft"), settings.per_minute(None))

    def send(self, msg: Outgoing) -> None:
        self.sent.append(msg)


@dataclass(frozen=True)
class Queued:
    id: int
    key: str
    kind: str
    channel: str
    person: str
    issue_id: int | None
    context: dict[str, Any]
    attempts: int = 0


def test_a_new_type_needs_only_a_registry_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = {"channels": {"birds": {"type": "pigeon", "loft": "镇政府楼顶"}},
           "routing": {"reminder": ["birds"]}}
    with pytest.raises(ConfigError, match=r"channels\.birds\.type: 'pigeon' is not one of"):
        parse(raw)
    monkeypatch.setattr(channels, "REGISTRY", {**REGISTRY, "pigeon": PigeonChannel.from_settings})

    cfg = parse(raw)
    built = build_channels(cfg, {})
    bird = built["birds"]
    assert isinstance(bird, PigeonChannel) and bird.loft == "镇政府楼顶"
    with pytest.raises(ConfigError, match=r"^\(config\): channels\.birds\.loft: missing"):
        build_channels(parse({"channels": {"birds": {"type": "pigeon"}}}), {})

    entry = Queued(id=7, key="escalation:101:chen:birds", kind="reminder", channel="birds",
                   person="chen", issue_id=42, context=sample_context("reminder"))
    outcome = deliver(entry, Recipient("chen", "陈支书"), built, Renderer(), Pacer())
    assert outcome == ("sent", None)
    [msg] = bird.sent
    assert msg.idempotency_key == "escalation:101:chen:birds" and "房屋漏雨" in msg.content.subject


def test_an_unknown_or_missing_type_lists_the_registry() -> None:
    with pytest.raises(ConfigError) as caught:
        build("x", {}, {})
    assert str(caught.value) == ("channels.x.type: missing (required; one of smtp, webhook, "
                                 "dingtalk, wecom, file, console)")
    assert caught.value.path == ("channels", "x", "type")


def test_a_console_channel_writes_to_the_stream_it_is_given() -> None:
    out = io.StringIO()
    channel = channels.ConsoleChannel("screen", stream=out)
    entry = Queued(id=1, key="k", kind="assignment", channel="screen", person="chen",
                   issue_id=42, context=sample_context("assignment"))
    assert deliver(entry, Recipient("chen", "陈支书"), {"screen": channel}, Renderer(),
                   Pacer()).status == "sent"
    assert "陈支书 (chen)" in out.getvalue()


# --- how the package hangs together (the project's layers: tests/test_layers.py) ---
def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                names.add(sub if sub in MODULES else node.module)
    return names


def test_channel_modules_import_only_the_shared_parts() -> None:
    allowed = {"notifications.channels.protocol", "notifications.channels.settings",
               "notifications.channels.http", "notifications.message", "notifications.errors"}
    for name in ("console", "dingtalk", "file", "smtp", "webhook", "wecom"):
        path = PACKAGE / "channels" / f"{name}.py"
        mine = {i for i in imports(path) if i.startswith("notifications")}
        assert mine <= allowed, (name, mine - allowed)
    assert not (PACKAGE / "channels" / "base.py").exists()

