"""Offline toolchain of the project: see tools/README.md."""
