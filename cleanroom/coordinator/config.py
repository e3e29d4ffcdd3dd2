"""The coordinator's effective configuration: defaults < TOML file < environment < `serve` flags.

Every value is checked against ``config_schema`` before anything starts; the first bad one is an
``InputError`` naming where it came from (the file, the variable or the flag) and the key, so
`serve` exits with status 2 and opens nothing.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cleanroom.coordinator.config_schema import BY_DOTTED, KEYS, SECTIONS, Key
from cleanroom.coordinator.limits import Limits
from cleanroom.errors import InputError

CONFIG_FILE = "coordinator.toml"  # read from the data dir when --config is not given


@dataclass(frozen=True)
class Setting:
    value: Any
    source: str  # "default", "file PATH", "environment NAME", "flag --NAME" or "DATA_DIR/config.json"


@dataclass
class Config:
    settings: dict[str, Setting] = field(default_factory=dict)  # dotted key -> value and where it came from
    file: Path | None = None

    def __getitem__(self, dotted: str) -> Any:
        return self.settings[dotted].value

    def limits(self) -> Limits:
        return Limits(
            max_points=self["limits.max_points"],
            max_chunks=self["limits.max_chunks"],
            max_sealed_chunk_bytes=self["limits.max_sealed_chunk_bytes"],
            upload_idle_seconds=self["uploads.idle_timeout_seconds"],
            max_open_proposals=self["limits.max_open_proposals"],
            max_proposals_per_day=self["limits.max_proposals_per_day"],
            max_message_bytes=self["grpc.max_message_bytes"],
            max_metadata_bytes=self["grpc.max_metadata_bytes"],
            max_body_bytes=self["http.max_body_bytes"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.file) if self.file else None,
            "settings": {k: {"value": s.value, "source": s.source} for k, s in self.settings.items()},
        }


def _typed(key: Key, value: Any, where: str) -> Any:
    """``value`` as ``key``'s type, checked; else an error naming ``where`` and the key."""
    kind = key.kind
    ok = (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
        if kind is list
        else isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is float
        else isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    )
    if not ok:
        wanted = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list of strings"}
        raise InputError(f"{where}: {key.dotted} = {value!r} is not valid: it must be {wanted[kind]}")
    value = float(value) if kind is float else value
    problem = key.check(value) if key.check else None
    if problem:
        raise InputError(f"{where}: {key.dotted} = {value!r} is not valid: it must be {problem}")
    return value


def _from_text(key: Key, text: str, where: str) -> Any:
    """An environment variable's text as ``key``'s type (lists: comma-separated)."""
    if key.kind is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    if key.kind is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise InputError(f"{where}: {key.dotted} = {text!r} is not valid: it must be true or false")
        return lowered in ("true", "1")
    if key.kind in (int, float):
        try:
            return key.kind(text.strip().replace("_", ""))
        except ValueError:
            raise InputError(
                f"{where}: {key.dotted} = {text!r} is not valid: it must be {'an integer' if key.kind is int else 'a number'}"
            ) from None
    return text


def read_file(path: Path) -> dict[str, Any]:
    """A TOML file's keys as dotted names -> raw values; unknown sections and keys are errors."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None
    found: dict[str, Any] = {}
    for section, table in raw.items():
        if section not in SECTIONS or not isinstance(table, dict):
            raise InputError(
                f"config file {path}: unknown section [{section}] (sections: {', '.join(SECTIONS)}); nothing was started"
            )
        for name, value in table.items():
            dotted = f"{section}.{name}"
            if dotted not in BY_DOTTED:
                known = ", ".join(k.name for k in KEYS if k.section == section)
                raise InputError(f"config file {path}: unknown key {dotted} (keys of [{section}]: {known}); nothing was started")
            found[dotted] = value
    return found


def chosen_file(data_dir: Path, config: Path | None) -> Path | None:
    """--config if given (it must exist), else DATA_DIR/coordinator.toml if present."""
    if config is not None:
        return config
    default = data_dir / CONFIG_FILE
    return default if default.exists() else None


def load(
    data_dir: Path,
    config: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Config:
    """The effective configuration; ``flags`` maps dotted keys to flag values given (None: not given)."""
    environ = os.environ if environ is None else environ
    file = chosen_file(data_dir, config)
    from_file = read_file(file) if file else {}
    result = Config(file=file)
    unknown = sorted(n for n in environ if n.startswith("CLEANROOM_") and _looks_like_key(n) and n not in _ENV_NAMES)
    if unknown:
        raise InputError(f"environment {unknown[0]}: no such config key (see docs/CONFIG.md); nothing was started")
    for key in KEYS:
        setting = Setting(key.default, "default")
        if key.dotted in from_file:
            setting = Setting(_typed(key, from_file[key.dotted], f"config file {file}"), f"file {file}")
        if key.env in environ:
            where = f"environment {key.env}"
            setting = Setting(_typed(key, _from_text(key, environ[key.env], where), where), where)
        flag_value = (flags or {}).get(key.dotted)
        if flag_value is not None and flag_value != []:
            setting = Setting(_typed(key, flag_value, f"flag {key.flag}"), f"flag {key.flag}")
        result.settings[key.dotted] = setting
    if result["grpc.listen"] is None:  # as before config files: the address `init` wrote
        listen = _data_dir_listen(data_dir)
        result.settings["grpc.listen"] = Setting(listen, "DATA_DIR/config.json")
    _check_pairs(result)
    return result


_ENV_NAMES = {k.env for k in KEYS}


def _looks_like_key(name: str) -> bool:
    """Variables named like a config key of a known section (CLEANROOM_LIMITS_...); others are not ours."""
    return any(name.startswith(f"CLEANROOM_{section.upper()}_") for section in SECTIONS)


def _data_dir_listen(data_dir: Path) -> str:
    from cleanroom.coordinator.datadir import DataDir

    listen: str = DataDir(data_dir).config()["listen"]
    return listen


def _check_pairs(config: Config) -> None:
    for section in ("grpc", "http"):
        cert, key = config.settings[f"{section}.cert"], config.settings[f"{section}.key"]
        if bool(cert.value) != bool(key.value):
            given = cert if cert.value else key
            raise InputError(f"{given.source}: {section}.cert and {section}.key go together; nothing was started")
        for setting, name in ((cert, "cert"), (key, "key")):
            if setting.value and not Path(setting.value).is_file():
                raise InputError(f"{setting.source}: {section}.{name} = {setting.value!r}: no such file; nothing was started")
