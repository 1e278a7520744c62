"""Adopting nightcrew in a repository: carry over an existing bot's settings, and `nightcrew init`."""
