"""Example companion persona files shipped with phantom (see phantom_cli.personafile)."""
