"""Send what the tables hold to other systems: `rtlens export otel` (docs/otel.md).

`spans` turns a database's rows into one trace per session (plain records, no
OpenTelemetry import); `otlp` hands them to the OpenTelemetry SDK's OTLP exporters."""
