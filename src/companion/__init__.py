"""companion: build a reader's companion as an EPUB 3 and a print-ready PDF."""

__version__ = "0.1.0"
