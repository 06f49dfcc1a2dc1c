"""The package version, in one place: pyproject.toml reads it, and the Lua scripts write it
into a queue's ``meta`` hash (``version`` = ``queuecore:<version>``)."""

__version__ = "0.1.0"
