"""nightcrew: routine dependency and release work, done on a schedule by an automation people can trust."""

__version__ = "0.1.0"
