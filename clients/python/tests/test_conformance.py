"""pytest entry: every conformance vector of conformance/v1 passes (none skipped)."""

import asyncio
import logging

import conformance


def test_conformance_vectors() -> None:
    logging.getLogger("switchboard").setLevel(logging.CRITICAL)
    results = asyncio.run(conformance.run_all())
    failed = {f"{k}: {n}": p for k, n, p in results if p}
    skipped = [f"{k}: {n}" for k, n, p in results if p is None]
    assert failed == {}
    assert skipped == []
    assert len(results) >= 120
