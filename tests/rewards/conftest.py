"""Fixtures for the rewards tests. The official BFCL checker is a test oracle only, never run time."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def official():
    """bfcl-eval's own ast_checker (`verdict(pair) -> bool`), imported with its model-config module
    stood in for in sys.modules (the real one imports every vendor SDK)."""
    from tests.oracles.bfcl_ast import official_checker

    return official_checker()


@pytest.fixture(scope="session")
def bfcl_cases():
    from tests.oracles.bfcl_ast import load_cases

    return load_cases()


@pytest.fixture(scope="session")
def official_source():
    """bfcl-eval's ast_checker run with Language.JAVA / JAVASCRIPT: `result(pair) -> (valid, BFCL error type)`."""
    from tests.oracles.bfcl_ast import official_source_checker

    return official_source_checker()


@pytest.fixture(scope="session")
def source_cases():
    """BFCL's simple_java and simple_javascript entries, with their Java/JavaScript-typed function docs."""
    from tests.oracles.bfcl_ast import SOURCE_CATEGORIES, load_cases

    return load_cases(SOURCE_CATEGORIES)
