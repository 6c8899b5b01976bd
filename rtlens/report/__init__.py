"""Reports over the store: text (default), JSON and a self-contained HTML page.

This package is also the public `rtlens.report(...)` (docs/api.md): importing any
`rtlens.report.*` module makes `rtlens.report` this package, so the package itself is
callable and calls `rtlens.api.report`, whichever was imported first."""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from rtlens.api import report

        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
