"""Live Prometheus metrics from the relay (`rtlens record --metrics`): each finished
recording is normalized by the ingest normalizer, off the forwarding path, and its rows
update the counters, histograms and gauges served at `/metrics`."""

from rtlens.live.feed import MetricsFeed
from rtlens.live.metrics import RelayMetrics
from rtlens.live.server import MetricsServerError, serve_metrics

__all__ = ["MetricsFeed", "MetricsServerError", "RelayMetrics", "serve_metrics"]
