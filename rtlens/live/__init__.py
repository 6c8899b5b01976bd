"""Live metrics and spans from the relay (`rtlens record --metrics`, `--otlp`): each
recording is followed as it is written and normalized by the ingest normalizer, off the
forwarding path; a turn's rows are published once it is settled, the rest at the close.

Modules: `feed` (following the files), `progress` (what is new to publish), `metrics`
(Prometheus, needs the `metrics` extra), `traces` (OTLP spans, the `otel` extra),
`server` (serving /metrics). Nothing is imported here, so each works without the other's
extra.
"""
