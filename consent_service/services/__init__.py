"""Use cases: register, record choices, check, suppress, manage the catalogue and keys. Domain only."""
