"""The TOML configuration: defaults, the rules, and errors that name FILE:LINE and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.config import (
    DEFAULT_FILE,
    KINDS,
    Briefing,
    Config,
    Dispatch,
    load,
    parse,
)
from notifications.delivery import build_channels
from notifications.errors import ConfigError

GOOD = '''\
locale = "en"
templates = "local"

[dispatch]
max_tries = 3
backoff_seconds = 10
lease_seconds = 60.5
batch = 20

[channels.mail]
type = "smtp"
host = "127.0.0.1"
sender = "a@huangjia.example"

[channels.log]
type = "file"
path = "sent.jsonl"

[routing]
reminder = ["mail", "log"]
briefing = "log"

[briefing]
cron = "30 8 * * mon"
to = ["party_secretary", "liaison"]
'''


def write(tmp_path: Path, text: str, name: str = "rectify.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_a_full_file(tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    cfg = load(write(tmp_path, GOOD))
    assert cfg.locale == "en" and cfg.templates == tmp_path / "local"
    assert cfg.dispatch == Dispatch(max_tries=3, backoff_seconds=10.0, lease_seconds=60.5,
                                    batch=20)
    assert isinstance(cfg.dispatch.backoff_seconds, float)
    assert cfg.channels == {
        "mail": {"type": "smtp", "host": "127.0.0.1", "sender": "a@huangjia.example"},
        "log": {"type": "file", "path": "sent.jsonl"},
    }
    assert cfg.routing == {"reminder": ("mail", "log"), "briefing": ("log",)}
    assert cfg.briefing == Briefing(cron="30 8 * * mon", to=("party_secretary", "liaison"))
    assert cfg.source == str(tmp_path / "rectify.toml")
    # the application may name a key of the file the same way
    assert str(cfg.error(("briefing", "to", 1), "no such role 'liaison'")) == (
        f"{cfg.source}:25: briefing.to.1: no such role 'liaison'")
    assert str(cfg.error(("dispatch", "batch"), "too many")) == (
        f"{cfg.source}:8: dispatch.batch: too many")


def test_without_a_file_everything_goes_to_the_console(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load(None, {})
    assert cfg == Config(looked=f"{tmp_path / DEFAULT_FILE} (no --config, RECTIFY_CONFIG not"
                                " set)")
    assert cfg.channels == {"console": {"type": "console"}}
    assert cfg.routing == dict.fromkeys(KINDS, ("console",))
    assert (cfg.locale, cfg.templates, cfg.source) == ("zh_CN", None, "(defaults)")
    assert cfg.dispatch == Dispatch(5, 30.0, 300.0, 100)
    assert cfg.briefing == Briefing(None, ("party_secretary",))
    assert not hasattr(cfg, "channels_for")


def test_the_file_in_the_working_directory_and_rectify_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, 'locale = "en"\n', DEFAULT_FILE)
    assert load(None, {}).locale == "en"
    other = write(tmp_path, '[dispatch]\nbatch = 7\n', "other.toml")
    assert load(None, {"RECTIFY_CONFIG": str(other)}).dispatch.batch == 7
    with pytest.raises(ConfigError, match=r"nope\.toml: no such configuration file"):
        load(None, {"RECTIFY_CONFIG": str(tmp_path / "nope.toml")})
    with pytest.raises(ConfigError, match="no such configuration file"):
        load(tmp_path / "given.toml")


def test_without_routing_every_kind_goes_to_every_channel() -> None:
    cfg = parse({"channels": {"a": {"type": "console"}, "b": {"type": "file", "path": "x"}}})
    assert cfg.routing == dict.fromkeys(KINDS, ("a", "b"))


def test_the_routing_example_of_the_task(tmp_path: Path) -> None:
    text = GOOD.replace('reminder = ["mail", "log"]', 'reminder = ["mail2"]')
    text = text.replace('templates = "local"\n', "")
    line = text.splitlines().index('reminder = ["mail2"]') + 1
    assert refused(write(tmp_path, text)) == (
        f"{tmp_path / 'rectify.toml'}:{line}: routing.reminder: unknown channel 'mail2'")


@pytest.mark.parametrize(("text", "line", "key", "problem"), [
    ('\n\n[channels.sms]\ntype = "sms"\n', 4, "channels.sms.type",
     "'sms' is not one of smtp, webhook, dingtalk, wecom, file, console"),
    ('[channels.x]\nurl = "http://h/"\n', 1, "channels.x.type", "missing (required; one of"),
    ('[channels.x]\ntype = ["smtp"]\n', 2, "channels.x.type", "['smtp'] is not one of smtp,"),
    ('locale = ["en"]\n', 1, "locale", "['en'] is not zh_CN or en"),
    ('[channels.log]\ntype = "file"\npath = "l"\n[routing]\nreminder = [\n  "log",\n'
     '  "nope",\n]\n', 7, "routing.reminder", "unknown channel 'nope'"),
    ('[routing]\n\nmemo = ["console"]\n', 3, "routing.memo", "unknown kind (one of reminder,"),
    ('[routing]\nreminder = 5\n', 2, "routing.reminder", "must be a list of channel names"),
    ('routing = 5\n', 1, "routing", "must be a table of kind = [channels]"),
    ('channels = ["a"]\n', 1, "channels", "must be a table of [channels.NAME]"),
    ('[channels]\nmail = "smtp"\n', 2, "channels.mail", "must be a table"),
    ('# hello\nlocale = "fr"\n', 2, "locale", "'fr' is not zh_CN or en"),
    ('templates = 3\n', 1, "templates", "must be a directory path"),
    ('# local\ntemplates = "missing-dir"\n', 2, "templates", "no such directory"),
    ('[dispatch]\nmax_tries = 0\n', 2, "dispatch.max_tries", "must be at least 1"),
    ('[dispatch]\nbatch = 1.5\n', 2, "dispatch.batch", "must be an integer"),
    ('[dispatch]\nmax_tries = true\n', 2, "dispatch.max_tries", "must be an integer"),
    ('[dispatch]\nbackoff_seconds = "30"\n', 2, "dispatch.backoff_seconds", "must be a number"),
    ('[dispatch]\nlease_seconds = -1\n', 2, "dispatch.lease_seconds", "must be at least 0"),
    ('[dispatch]\nmax_try = 3\n', 2, "dispatch.max_try",
     "unknown key (one of max_tries, backoff_seconds, lease_seconds, batch)"),
    ('dispatch = 3\n', 1, "dispatch", "must be a table"),
    ('[briefing]\ncron = "61 8 * * *"\n', 2, "briefing.cron",
     "Error validating expression '61'"),
    ('[briefing]\ncron = 830\n', 2, "briefing.cron", 'must be a crontab string like'),
    ('[briefing]\nto = "wang"\n', 2, "briefing.to", "must be a list of roles or person ids"),
    ('[briefing]\nto = ["wang", 3]\n', 2, "briefing.to", "must be a list of roles or person"),
    ('[briefing]\nwhen = "monday"\n', 2, "briefing.when", "unknown key (one of cron, to)"),
    ('locale = "en"\n[dispach]\nmax_tries = 1\n', 2, "dispach",
     "unknown key (one of locale, templates, channels, routing, dispatch, briefing)"),
])
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str,
                                       problem: str) -> None:
    path = write(tmp_path, text)
    message = refused(path)
    assert message.startswith(f"{path}:{line}: {key}: {problem}"), message
    # the same mapping without its text: the old form, no line
    with pytest.raises(ConfigError) as caught:
        parse(tomllib.loads(text), "rectify.toml", tmp_path)
    assert str(caught.value).startswith(f"rectify.toml: {key}: {problem}"), str(caught.value)


def test_several_problems_are_named_first_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[dispatch]\nbatch = 0\n\n[routing]\nmemo = []\n\nlocale = "fr"\n')
    message = refused(path)
    # locale sits under [routing] in TOML terms, so it is an unknown kind there
    assert message.startswith(f"{path}:2: dispatch.batch: must be at least 1 (and 2 more: ")
    assert f"{path}:5: routing.memo: unknown kind" in message
    assert f"{path}:7: routing.locale: unknown kind" in message


def test_not_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'locale = "en"\n\n[channels.log\ntype = "file"\n')
    message = refused(path)
    assert message.startswith(f"{path}:3: not TOML: "), message
    path.write_bytes(b'locale = "\xff"\n')
    assert refused(path).startswith(f"{path}: not TOML: not UTF-8 text")


def test_templates_are_relative_to_the_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf" / "mine").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    cfg = load(write(tmp_path / "conf", 'templates = "mine"\n'))
    assert cfg.templates == tmp_path / "conf" / "mine"
    absolute = load(write(tmp_path / "conf", f'templates = "{tmp_path / "conf" / "mine"}"\n'))
    assert absolute.templates == tmp_path / "conf" / "mine"


def test_channel_settings_errors_get_the_line_when_built(tmp_path: Path) -> None:
    path = write(tmp_path, '[channels.ding]\ntype = "dingtalk"\nurl = "https://h/?t=1"\n'
                           'secret = "env:RECTIFY_TEST_NOT_SET"\n\n[channels.hook]\n'
                           'type = "webhook"\n')
    cfg = load(path)  # the type is known: the rest is the channel's to check
    with pytest.raises(ConfigError) as caught:
        build_channels(cfg, {})
    assert str(caught.value) == (f"{path}:4: channels.ding.secret: environment variable "
                                 "RECTIFY_TEST_NOT_SET is not set")
    assert caught.value.path == ("channels", "ding", "secret")
    with pytest.raises(ConfigError) as missing:
        build_channels(cfg, {"RECTIFY_TEST_NOT_SET": "SEC1"})
    assert str(missing.value) == f"{path}:6: channels.hook.url: missing (required)"
    from_dict = parse(tomllib.loads(path.read_text(encoding="utf-8")), "conf")
    with pytest.raises(ConfigError, match=r"^conf: channels\.ding\.secret: "):
        build_channels(from_dict, {})



_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-1, 1),
                     st.sampled_from(["console", "file", "smtp", "en", "zh_CN", "mail", "x",
                                      "30 8 * * mon", "reminder"]))
_KEYS = st.sampled_from(["locale", "templates", "channels", "routing", "dispatch", "briefing",
                         "type", "path", "reminder", "max_tries", "batch", "cron", "to", "mail"])
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_any_mapping_is_a_config_or_a_config_error(raw: dict[str, Any]) -> None:
    try:
        cfg = parse(raw)
    except ConfigError as e:
        assert str(e).startswith("(config): ")
        return
    assert set(cfg.routing) <= set(KINDS) and cfg.channels
