"""The rules of the privacy notice, in pure Python: no framework, ORM, cache or serialiser here."""
