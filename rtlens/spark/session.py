"""Starting Spark for rtlens: one place for the settings the tables depend on."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rtlens.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
# Settings the tables' values depend on, whatever the cluster's defaults: times are UTC
# instants, Parquet timestamps are INT64 µs (Spark's default INT96 is not what DuckDB and
# polars read as a timestamp with time zone), and the `date=` folders stay text ('unknown'
# sits beside real dates).
SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.ansi.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # no _SUCCESS marker among the Parquet files
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}
# A local master binds to loopback only: nothing listens beyond this machine.
LOCAL_SETTINGS = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}


def is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def start(master: str = DEFAULT_MASTER, app_name: str = "rtlens") -> SparkSession:
    """A Spark session on `master`, or InputError saying what is missing (the extra, Java)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise InputError("--engine spark needs PySpark: pip install 'rtlens[spark]'") from exc
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise InputError("--engine spark needs Java 17 or newer: no java on PATH and no JAVA_HOME")
    if is_local(master):
        # the executors' Python is this one, with rtlens installed
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    log_config = Path(__file__).resolve().parent.parent / "data" / "spark-log4j2.properties"
    builder = SparkSession.builder.master(master).appName(app_name)
    builder = builder.config(
        "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log_config}"
    )
    for key, value in {**SETTINGS, **(LOCAL_SETTINGS if is_local(master) else {})}.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: say so in one line
        raise InputError(f"Spark did not start on {master}: {error_line(exc)}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    if not is_local(master):
        ship_package(spark)
    return spark


def ship_package(spark: SparkSession) -> None:
    """Send this rtlens to a cluster's executors as a zip (`addPyFile`, the usual means).
    The zip holds the Python sources only, so executors take the pure-Python reader; they
    need rtlens's dependencies (orjson, duckdb) installed."""
    import tempfile
    import zipfile

    import rtlens

    root = Path(rtlens.__file__).parent
    handle, name = tempfile.mkstemp(prefix="rtlens-", suffix=".zip")
    os.close(handle)
    with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in {".py", ".json", ".js", ".typed"}:
                zf.write(path, Path("rtlens") / path.relative_to(root))
    spark.sparkContext.addPyFile(name)


def error_line(exc: BaseException) -> str:
    """The first line of a Spark or JVM error (they run to pages of Java stack)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
