"""Build configuration beyond pyproject.toml: the optional C speedup for ingest.

`rtlens.logfile._appends` reads user audio appends in C (see the file's header). It is
optional: where it cannot be compiled (no C compiler), rtlens installs without it and the
reader takes its pure-Python path, with the same results: ingest takes 11-27% longer
(benchmarks/README.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rtlens.logfile._appends",
            ["rtlens/logfile/_appends.c"],
            optional=True,
        )
    ]
)
