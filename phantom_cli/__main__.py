"""`python -m phantom_cli`."""

from phantom_cli.cli.main import run

if __name__ == "__main__":
    run()
