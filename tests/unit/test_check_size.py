"""tools/check_size.py: the module and function size limits, and that it can fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.check_size import MAX_FUNCTION_LINES, MAX_MODULE_LINES, REPO, check, check_source, is_generated, main


def _function(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(body_lines))
    return f"{indent}def {name}():\n{body}"


def test_a_small_module_passes():
    assert check_source(_function("f", 10), Path("m.py")) == []


def test_function_at_the_limit_passes_and_one_over_fails():
    at_limit = _function("f", MAX_FUNCTION_LINES - 1)  # def line + body = the limit
    assert check_source(at_limit, Path("m.py")) == []
    over = check_source(_function("f", MAX_FUNCTION_LINES), Path("m.py"))
    assert [(o.what, o.lines, o.line) for o in over] == [("function f()", MAX_FUNCTION_LINES + 1, 1)]


def test_methods_nested_and_async_functions_are_named_and_measured():
    source = "class C:\n" + _function("method", 70, "    ") + "async def g():\n" + _function("inner", 65, "    ")
    names = sorted(o.what for o in check_source(source, Path("m.py")))
    assert names == ["function C.method()", "function g()", "function g.inner()"]


def test_a_long_module_fails_at_line_one():
    source = "x = 1\n" * (MAX_MODULE_LINES + 1)
    assert [str(o) for o in check_source(source, Path("m.py"))] == [
        f"m.py:1: module has {MAX_MODULE_LINES + 1} lines (limit {MAX_MODULE_LINES})"
    ]
    assert check_source("x = 1\n" * MAX_MODULE_LINES, Path("m.py")) == []


def test_generated_code_is_skipped():
    assert is_generated(REPO / "cleanroom" / "v1" / "anything.py")
    assert is_generated(Path("/elsewhere/foo_pb2_grpc.py"))
    assert not is_generated(REPO / "cleanroom" / "terms.py")


def test_main_exits_1_listing_offenders(tmp_path: Path, capsys):
    (tmp_path / "ok.py").write_text(_function("fine", 5))
    (tmp_path / "big.py").write_text(_function("huge", 80))
    assert main([str(tmp_path / "ok.py")]) == 0
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "big.py:1: function huge() has 81 lines (limit 60)" in out
    assert "ok.py" not in out
    assert len(check([tmp_path])) == 1


def test_the_command_line_runs_from_the_repository():
    done = subprocess.run([sys.executable, "tools/check_size.py", "no/such/dir"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "no such file or folder" in done.stderr
