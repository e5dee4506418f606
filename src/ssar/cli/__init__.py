"""The ``ssar`` command line (Typer)."""
