"""The station: the pipeline that composes capture, ocr and assemble; profile, journal, CLI."""

__version__ = "0.1.0"
