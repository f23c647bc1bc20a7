"""The bot core: settings, the Discord bot class, the shared cat-fact client and the console."""

__version__ = "1.0.0"
