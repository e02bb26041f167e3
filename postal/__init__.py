"""Public postal service for Vietnam's one-stop desks: the domain package."""

__version__ = "0.1.0"
