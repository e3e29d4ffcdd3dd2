"""The coordinator's config file: precedence (file < environment < flag), defaults that keep today's
behaviour, one clear error naming the source and key for bad input, and docs/CONFIG.md kept in step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cleanroom.coordinator.config import load
from cleanroom.coordinator.config_schema import KEYS, markdown
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.launch import operations
from cleanroom.coordinator.limits import Limits
from cleanroom.coordinator.server import Operations
from cleanroom.errors import InputError
from cleanroom.terminal.logs import EventLog

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    DataDir(tmp_path / "coord").init(listen="127.0.0.1:7001")
    return tmp_path / "coord"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_without_a_file_every_value_is_todays(data_dir: Path):
    config = load(data_dir, environ={})
    assert config.limits() == Limits()  # the dataclass's own defaults: what `serve` used before config files
    ops = operations(config, EventLog())
    assert (ops.max_workers, ops.sweep_seconds, ops.grace_seconds, ops.tls) == (8, 1.0, 2.0, None)
    assert (ops.duckdb_memory_limit, ops.duckdb_threads) == (Operations().duckdb_memory_limit, Operations().duckdb_threads)
    assert config["grpc.listen"] == "127.0.0.1:7001"  # as `init --listen` wrote it
    assert config.settings["grpc.listen"].source == "DATA_DIR/config.json"
    assert (config["http.listen"], config["log.format"], config["log.level"]) == ("", "text", "info")
    assert {s.source for k, s in config.settings.items() if k != "grpc.listen"} == {"default"}


def test_file_then_environment_then_flag(data_dir: Path, tmp_path: Path):
    file = _write(tmp_path / "c.toml", '[limits]\nmax_points = 10\nmax_chunks = 11\n[log]\nformat = "json"\n')
    config = load(data_dir, file, environ={})
    assert (config["limits.max_points"], config["limits.max_chunks"], config["log.format"]) == (10, 11, "json")
    assert config.settings["limits.max_points"].source == f"file {file}"

    env = {"CLEANROOM_LIMITS_MAX_POINTS": "20", "CLEANROOM_LOG_FORMAT": "text"}
    config = load(data_dir, file, environ=env)
    assert (config["limits.max_points"], config["limits.max_chunks"], config["log.format"]) == (20, 11, "text")
    assert config.settings["limits.max_points"].source == "environment CLEANROOM_LIMITS_MAX_POINTS"

    config = load(data_dir, file, environ=env, flags={"limits.max_points": 30, "log.format": None})
    assert (config["limits.max_points"], config["log.format"]) == (30, "text")  # a flag not given changes nothing
    assert config.settings["limits.max_points"].source == "flag --max-points"
    assert config.limits().max_points == 30 and config.limits().max_chunks == 11


def test_the_data_dirs_file_is_read_when_no_config_is_given(data_dir: Path):
    _write(data_dir / "coordinator.toml", '[grpc]\nlisten = "0.0.0.0:50051"\n[http]\nallowed_hosts = ["a.example"]\n')
    config = load(data_dir, environ={"CLEANROOM_HTTP_ALLOWED_HOSTS": "b.example, c.example"})
    assert config["grpc.listen"] == "0.0.0.0:50051"
    assert config["http.allowed_hosts"] == ["b.example", "c.example"]  # the environment's list replaces the file's
    assert config.file == data_dir / "coordinator.toml"


@pytest.mark.parametrize(
    "text,named",
    [
        ("[limits]\nmax_pointz = 5\n", "unknown key limits.max_pointz"),
        ("[limitz]\nmax_points = 5\n", "unknown section [limitz]"),
        ('[limits]\nmax_points = "ten"\n', "limits.max_points = 'ten' is not valid: it must be an integer"),
        ("[limits]\nmax_points = true\n", "limits.max_points = True is not valid: it must be an integer"),
        ("[limits]\nmax_points = -5\n", "limits.max_points = -5 is not valid: it must be a number greater than 0"),
        ('[grpc]\nlisten = "localhost"\n', "grpc.listen = 'localhost' is not valid: it must be a HOST:PORT address"),
        ('[grpc]\nlisten = "h:99999"\n', "grpc.listen = 'h:99999' is not valid"),
        ('[log]\nformat = "xml"\n', "log.format = 'xml' is not valid: it must be one of 'text', 'json'"),
        ('[duckdb]\nmemory_limit = "lots"\n', "duckdb.memory_limit = 'lots' is not valid"),
        ('[duckdb]\ntemp_directory = "spill"\n', "duckdb.temp_directory = 'spill' is not valid: it must be an absolute"),
        (
            '[duckdb]\ntemp_directory = "/etc/hostname"\n',
            "duckdb.temp_directory = '/etc/hostname' is not valid: it must be a directory",
        ),
        ("[shutdown]\ngrace_seconds = 0\n", "shutdown.grace_seconds = 0.0 is not valid"),
        ("[retention]\nsweep_seconds = inf\n", "retention.sweep_seconds = inf is not valid"),
        ("[limits]\nmax_points = 4294967296\n", "limits.max_points = 4294967296 is not valid: it must be at most 4,294,967,295"),
        ('[grpc]\ncert = "/nonexistent.pem"\n', "grpc.cert and grpc.key go together"),
        ("[limits\n", "is not valid TOML"),
    ],
)
def test_a_bad_file_is_one_error_naming_the_file_and_key(data_dir: Path, tmp_path: Path, text: str, named: str):
    file = _write(tmp_path / "bad.toml", text)
    with pytest.raises(InputError) as caught:
        load(data_dir, file, environ={})
    assert str(file) in str(caught.value) and named in str(caught.value)


@pytest.mark.parametrize(
    "env,named",
    [
        ({"CLEANROOM_LIMITS_MAX_POINTS": "lots"}, "environment CLEANROOM_LIMITS_MAX_POINTS: limits.max_points = 'lots'"),
        ({"CLEANROOM_GRPC_LISTEN": "nowhere"}, "environment CLEANROOM_GRPC_LISTEN: grpc.listen = 'nowhere'"),
        (
            {"CLEANROOM_DUCKDB_TEMP_DIRECTORY": "tmp"},
            "environment CLEANROOM_DUCKDB_TEMP_DIRECTORY: duckdb.temp_directory = 'tmp'",
        ),
        ({"CLEANROOM_LIMITS_MAX_POINT": "5"}, "environment CLEANROOM_LIMITS_MAX_POINT: no such config key"),
        # An infinite period would silently switch off the retention sweep, the idle-upload sweep or the grace limit.
        ({"CLEANROOM_RETENTION_SWEEP_SECONDS": "inf"}, "retention.sweep_seconds = inf is not valid"),
        ({"CLEANROOM_UPLOADS_IDLE_TIMEOUT_SECONDS": "1e400"}, "uploads.idle_timeout_seconds = inf is not valid"),
        ({"CLEANROOM_SHUTDOWN_GRACE_SECONDS": "Infinity"}, "shutdown.grace_seconds = inf is not valid"),
    ],
)
def test_a_bad_environment_variable_is_named(data_dir: Path, env: dict[str, str], named: str):
    with pytest.raises(InputError, match=named):
        load(data_dir, environ=env)


def test_other_cleanroom_variables_are_not_config(data_dir: Path):
    load(data_dir, environ={"CLEANROOM_PROFILE": "/x", "CLEANROOM_FAULT_EXIT_AFTER_CHUNKS": "2"})


def test_a_config_that_names_a_missing_file_is_refused(data_dir: Path, tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        load(data_dir, tmp_path / "absent.toml", environ={})


def test_serve_with_a_bad_config_exits_2_naming_the_key_and_starts_nothing(data_dir: Path, tmp_path: Path):
    file = _write(tmp_path / "bad.toml", "[limits]\nmax_points = -1\n")
    argv = [sys.executable, "-m", "cleanroom.coordinator.cli", "coordinator", "serve", "--data-dir", str(data_dir)]
    proc = subprocess.run([*argv, "--config", str(file), "--port-file", str(tmp_path / "port")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and str(file) in proc.stderr and "limits.max_points" in proc.stderr
    assert not (data_dir / "coordinator.duckdb").exists() and not (tmp_path / "port").exists()  # nothing opened


def test_the_config_command_prints_values_and_sources(data_dir: Path, tmp_path: Path):
    import json

    file = _write(tmp_path / "c.toml", "[limits]\nmax_points = 10\n")
    argv = [sys.executable, "-m", "cleanroom.coordinator.cli", "coordinator", "config", "--data-dir", str(data_dir)]
    proc = subprocess.run(
        [*argv, "--config", str(file), "--json"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "CLEANROOM_RETENTION_SWEEP_SECONDS": "5"},
        check=True,
    )
    shown = json.loads(proc.stdout)["settings"]
    assert shown["limits.max_points"] == {"value": 10, "source": f"file {file}"}
    assert shown["retention.sweep_seconds"] == {"value": 5.0, "source": "environment CLEANROOM_RETENTION_SWEEP_SECONDS"}
    assert set(shown) == {k.dotted for k in KEYS}


def test_docs_config_md_is_generated_from_the_schema():
    assert (REPO / "docs" / "CONFIG.md").read_text() == markdown(), (
        "docs/CONFIG.md is stale: python -m cleanroom.coordinator.config_schema > docs/CONFIG.md"
    )
    readme = (REPO / "README.md").read_text()
    assert "docs/CONFIG.md" in readme


def test_every_flag_named_in_the_schema_exists_on_serve():
    from cleanroom.coordinator.cli import build_parser

    serve = build_parser()._subparsers._group_actions[0].choices["coordinator"]  # type: ignore[union-attr]
    options = {o for a in serve._subparsers._group_actions[0].choices["serve"]._actions for o in a.option_strings}
    assert {k.flag for k in KEYS if k.flag} <= options
