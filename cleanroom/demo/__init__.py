"""The demo and the synthetic CRM data behind it and the tests.

The product never imports this package: the two command lines find `cleanroom demo`
and `cleanroom-client synth` through entry points (pyproject.toml).
"""
