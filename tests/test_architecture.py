"""Imports point one way along the data flow (STYLE.md): recording -> logfile -> ingest ->
store -> analysis -> report, with the CLI on top and the simulator beside; audio reads
logfiles and ingest's turns, and the report may play it."""

from __future__ import annotations

import ast
from pathlib import Path

import rtlens

PACKAGE = Path(rtlens.__file__).parent

# package -> packages it must never import
FORBIDDEN = {
    "logfile": {"recording", "ingest", "store", "analysis", "report", "simulator", "cli", "live"},
    "recording": {"ingest", "store", "analysis", "report", "simulator", "cli", "live"},
    "ingest": {"recording", "analysis", "report", "simulator", "cli", "live"},
    "store": {"recording", "ingest", "analysis", "report", "simulator", "cli", "live"},
    "analysis": {"recording", "report", "simulator", "cli"},
    "report": {"recording", "simulator", "cli"},
    "simulator": {"ingest", "store", "analysis", "report", "cli", "audio"},
    "audio": {"recording", "store", "analysis", "report", "simulator", "cli"},
    "export": {"recording", "ingest", "analysis", "report", "simulator", "cli", "audio"},
    # replay serves a recording: it reads logfiles, nothing downstream of them
    "replay": {"recording", "ingest", "store", "analysis", "report", "simulator", "cli", "audio"},
    # live metrics and spans: the ingest normalizer run on the relay's recordings as they
    # grow, the export's span tree
    "live": {"recording", "store", "analysis", "report", "simulator", "cli"},
    # another engine for ingest and query: it runs the normalizer and the shared views
    "spark": {"recording", "analysis", "report", "simulator", "cli", "live", "replay", "audio"},
}
# third-party modules allowed only in some packages
CONFINED = {
    "websockets": {"recording", "simulator", "replay"},
    "matplotlib": {"report"},
    # the WebRTC stack and its HTTP signalling serve the simulator only
    "aiortc": {"simulator"},
    "av": {"simulator"},
    "aiohttp": {"simulator"},
    "opentelemetry": {"export"},
    "prometheus_client": {"live"},
    "pyspark": {"spark"},
    "py4j": {"spark"},
}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        out.append((parts[0] if len(parts) > 1 else "", path))
    return out


def test_imports_follow_the_data_flow():
    problems = []
    for package, path in modules():
        for name in imports(path):
            if not name.startswith("rtlens."):
                continue
            target = name.split(".")[1]
            if target in FORBIDDEN.get(package, set()):
                problems.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert problems == []


def test_nothing_imports_the_cli():
    offenders = [
        str(path.relative_to(PACKAGE))
        for package, path in modules()
        if package != "cli"
        and path.name != "__main__.py"
        and any(n == "rtlens.cli" or n.startswith("rtlens.cli.") for n in imports(path))
    ]
    assert offenders == []


def test_websockets_and_matplotlib_stay_where_they_belong():
    problems = []
    for package, path in modules():
        for name in imports(path):
            root = name.split(".")[0]
            if root in CONFINED and package not in CONFINED[root]:
                problems.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert problems == []
