"""How Reelay names itself to providers and CDNs.

Provider API calls (``providers/api_client.py``: submits on aiohttp, status polls on
``providers/keepalive_get.py``) and video downloads (``providers/download.py``, aiohttp) send this User-Agent.
"""

from poller.version import VERSION

USER_AGENT = f"reelay/{VERSION}"
