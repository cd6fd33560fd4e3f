"""The configuration file's schema (pydantic), loaded only when there is a file to check.

`validate` gives the checked file, or each problem as (key path, what is wrong) in the words
the rest of the configuration errors use; `notifications.config` adds file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from notifications.message import KINDS, LOCALES
from notifications.toml_lines import KeyPath


def _problem(message: str) -> PydanticCustomError:
    """A validation error whose message is exactly `message`."""
    return PydanticCustomError("config", "{problem}", {"problem": message})


def _table(what: str) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _problem(what)
        return value

    return check


def _strings(what: str, lone: bool = False) -> Any:
    """A list of strings -> a tuple (with `lone`, a string alone is a list of one); else
    `what`."""
    def check(value: Any) -> tuple[str, ...]:
        if lone and isinstance(value, str):
            return (value,)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise _problem(what)
        return tuple(value)

    return check


def _kind(value: str) -> str:
    if value not in KINDS:
        raise _problem(f"unknown kind (one of {', '.join(KINDS)})")
    return value


ChannelNames = Annotated[tuple[str, ...],
                         BeforeValidator(_strings("must be a list of channel names", lone=True))]
Kind = Annotated[str, AfterValidator(_kind)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DispatchFile(_Closed):
    max_tries: StrictInt = Field(default=5, ge=1)
    backoff_seconds: StrictFloat = Field(default=30.0, ge=0)
    lease_seconds: StrictFloat = Field(default=300.0, ge=0)
    batch: StrictInt = Field(default=100, ge=1)


class BriefingFile(_Closed):
    cron: str | None = None
    to: Annotated[tuple[str, ...],
                  BeforeValidator(_strings("must be a list of roles or person ids"))] = (
        "party_secretary",)

    @field_validator("cron", mode="before")
    @classmethod
    def _crontab(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise _problem('must be a crontab string like "30 8 * * mon"')
        from apscheduler.triggers.cron import CronTrigger  # only when a briefing is scheduled

        try:
            CronTrigger.from_crontab(value)
        except ValueError as e:
            raise _problem(str(e)) from None
        return value


class ChannelFile(BaseModel):
    """`channels.<name>`: a `type` the registry knows; the other keys are the channel's."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str | None = Field(default=None, validate_default=True)

    @field_validator("type", mode="before")
    @classmethod
    def _registered(cls, value: Any) -> Any:
        from notifications.channels import REGISTRY  # the channel modules: only with a file

        known = ", ".join(REGISTRY)
        if value is None:
            raise _problem(f"missing (required; one of {known})")
        if not isinstance(value, str) or value not in REGISTRY:
            raise _problem(f"{value!r} is not one of {known}")
        return value


class ConfigFile(_Closed):
    locale: str = "zh_CN"
    templates: str | None = None
    channels: Annotated[dict[str, ChannelFile],
                        BeforeValidator(_table("must be a table of [channels.NAME]"))] = {}
    routing: Annotated[dict[Kind, ChannelNames] | None,
                       BeforeValidator(_table("must be a table of kind = [channels]"))] = None
    dispatch: DispatchFile = DispatchFile()
    briefing: BriefingFile = BriefingFile()

    @field_validator("locale", mode="before")
    @classmethod
    def _locale(cls, value: Any) -> Any:
        if value not in LOCALES:
            raise _problem(f"{value!r} is not {' or '.join(LOCALES)}")
        return value

    @field_validator("templates", mode="before")
    @classmethod
    def _directory(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise _problem("must be a directory path")
        return value


_CLOSED: Final[Mapping[KeyPath, type[BaseModel]]] = {
    (): ConfigFile, ("dispatch",): DispatchFile, ("briefing",): BriefingFile}
"""The closed tables, by where they are: what an unknown key there could have been."""


def validate(raw: Mapping[str, Any]) -> tuple[ConfigFile | None, list[tuple[KeyPath, str]]]:
    """The file `raw` describes, or None and what is wrong with it, key by key."""
    try:
        return ConfigFile.model_validate(raw), []
    except ValidationError as e:
        wrong = []
        for err in e.errors():
            loc = tuple(part for part in err["loc"] if part != "[key]")
            wrong.append((loc, _message(err["type"], loc, err["msg"], err.get("ctx"))))
        return None, wrong


def _message(kind: str, loc: KeyPath, default: str, ctx: Mapping[str, Any] | None) -> str:
    """pydantic's error, said the way the rest of the configuration errors are."""
    if kind == "extra_forbidden":
        model = _CLOSED.get(loc[:-1])
        known = f" (one of {', '.join(model.model_fields)})" if model is not None else ""
        return f"unknown key{known}"
    if kind == "missing":
        return "missing (required)"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be an integer"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind == "greater_than_equal" and ctx is not None:
        return f"must be at least {ctx['ge']:g}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a table"
    if kind == "string_type":
        return "must be a string"
    return default
