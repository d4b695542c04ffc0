"""Shared test support: builders, local servers and the integration harness.

Owns: code that tests and benchmarks import (``tests.support.harness``,
``synth``, ``alerting_chain``, ``probe_servers``, ``helpers``, ``sources``). Holds no
tests and no fixtures; fixtures stay in the ``conftest.py`` files.
"""
