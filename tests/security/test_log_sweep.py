"""The whole-suite log sweep (``tests/support/log_sweep.py``) must be able to find what it looks for:
a sweep that never finds anything would pass a run whose logs leak."""

from __future__ import annotations

import logging
import uuid

from tests.support.log_sweep import Sweep


def test_the_sweep_finds_details_that_redaction_lets_through_and_not_those_it_catches() -> None:
    # Not made by fresh_email()/fresh_mobile(): the run's own sweep must not count these.
    slipped_email = f"canary.{uuid.uuid4().hex[:12]}@example.org"
    caught_email = f"canary.{uuid.uuid4().hex[:12]}@example.org"
    slipped_mobile, caught_mobile = "07700 900417", "07700 900981"
    log = logging.getLogger("consent_service.test")
    sweep = Sweep()
    sweep.attach()
    try:
        # A local part alone, and a number written with hyphens, are no shape redaction knows.
        log.warning("no account for %s", slipped_email.split("@")[0].upper())
        log.info("rang +44 (0)7700-900-417")
        log.error("bounced: %s, %s", caught_email, caught_mobile)
        logging.getLogger("httpx").error("the test client's own line: %s", caught_email)
    finally:
        sweep.detach()

    assert len(sweep.lines()) == 6  # three records, each as JSON and as text; none of the client's
    sweep.search({slipped_email, caught_email, slipped_mobile, caught_mobile})
    assert sweep.finds == sorted([slipped_email, slipped_mobile])
    assert sweep.searched == 4
