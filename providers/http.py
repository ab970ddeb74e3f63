"""How Reelay names itself to providers and CDNs.

Provider API calls go over aiohttp (``providers/api_client.py``), video downloads too
(``providers/download.py``); both send this User-Agent.
"""

USER_AGENT = "reelay/0.1"
