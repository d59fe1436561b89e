"""``python -m consent_service.cli``: the same command as the ``consent-service`` script."""

import sys

from consent_service.cli import main

sys.exit(main())
