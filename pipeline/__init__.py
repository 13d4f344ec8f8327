"""Crawl a project directory, follow its detail links, keep clean records in SQLite."""

__version__ = "0.1.0"

# Bumped whenever extraction changes what a page yields; stored on every record.
PARSER_VERSION = "2"
