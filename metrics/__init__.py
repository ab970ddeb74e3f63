"""Prometheus metrics: the registry, the listener of the core's events, and the ``/metrics`` route.

An adapter on the core: it imports ``poller`` only (and ``prometheus-client``, Starlette); the composition root
(``bot/app.py``) wires it.
"""

from metrics.endpoint import Readings, metrics_route
from metrics.listener import PrometheusListener, telegram_request_counter
from metrics.registry import Metrics, metric_names

__all__ = ["Metrics", "PrometheusListener", "Readings", "metric_names", "metrics_route", "telegram_request_counter"]
