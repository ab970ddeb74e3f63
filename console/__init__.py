"""The operator console: a web page at ``/console`` served by every process (jobs, a job, the overview, live).

An adapter on the core: it reads through small protocols of its own (``console.ports``) and changes jobs only
through the core's use cases (``poller.control``). ``bot/app.py`` wires the Redis stores into it.
"""

from console.app import console_mount
from console.balance import CachedBalance
from console.deps import ConsoleDeps

__all__ = ["CachedBalance", "ConsoleDeps", "console_mount"]
