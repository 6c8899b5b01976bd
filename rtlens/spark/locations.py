"""Where Spark reads and writes: a local folder, or any URL its Hadoop file systems know
(`s3a://bucket/rt`, `hdfs://…`, `abfs://…`): object stores are paths (docs/spark.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def is_url(location: str | Path) -> bool:
    return "://" in str(location) and not str(location).startswith("file://")


def resolve(location: str | Path) -> str:
    """A URL as given (no trailing slash); a local path made absolute, as executors on
    other hosts must be handed it."""
    if is_url(location):
        return str(location).rstrip("/")
    return str(Path(location).resolve())


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def remove(spark: Any, location: str) -> None:
    """Delete `location` and what is under it through Hadoop's file system for its scheme,
    the same for a local folder and a bucket prefix."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)
