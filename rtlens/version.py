"""rtlens's version, in a module of its own: what writes it into files imports no package."""

__version__ = "0.1.0"
