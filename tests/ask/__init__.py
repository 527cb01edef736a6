"""Tests of `geo.ask` (a package, so test modules here may share basenames with other test folders)."""
