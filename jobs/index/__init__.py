"""The package index: where it is, how to ask it (PEP 691 / PEP 503), and which version to choose."""
