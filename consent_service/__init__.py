"""consent-service: consents, communication preferences and a suppression list for family-support organisations."""

__version__ = "0.1.0"
