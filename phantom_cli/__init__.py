"""phantom — terminal chat client and admin CLI for the Phantom API."""

__version__ = "0.1.0"
