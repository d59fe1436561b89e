"""consent-service: consents, communication preferences and a suppression list.

For family-support organisations: charities, Family Hubs and Early Help teams.
"""

__version__ = "0.1.0"
