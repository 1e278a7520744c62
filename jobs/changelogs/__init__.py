"""Changelogs: find a package's changelog through a chain of sources, cut out the versions in between, flag
what breaks."""
