"""The same tables on Apache Spark: `rtlens ingest --engine spark` maps the per-file
normalizer (`rtlens.ingest.onefile`) over executors and writes the Parquet layout of
docs/schema.md; `rtlens query --engine spark` runs the shared views over it in Spark SQL.
Needs the `spark` extra (PySpark) and Java 17+."""
