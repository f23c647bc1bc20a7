"""Exceptions shared by the modules that read configuration."""

from __future__ import annotations


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line an operator can act on."""


__all__ = ["SettingsError"]
