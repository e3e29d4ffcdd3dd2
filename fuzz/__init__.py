"""Coverage-guided fuzzing (atheris, libFuzzer) of what reads input from outside: CRM files, keys, terms,
gRPC requests and REST requests.

``targets/`` holds one harness per target: a ``check(data: bytes)`` that feeds the bytes to a public entry
point and raises ``Crash`` (or lets an unexpected exception escape) when the code fails in a way it must
not. ``harness.py`` runs one of them under atheris; ``run_all.py`` runs each for a bounded time in its own
process and fails on any crash, printing the reproducer's path. ``corpus/<target>/`` is the committed
seed corpus (``make_seeds.py`` wrote it); tests/unit/test_fuzz_corpus.py replays it in-process.
"""
