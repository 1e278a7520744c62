"""Commands that live in modules of their own; each module lists its click commands in ``COMMANDS``.

A command with ``nightcrew_run_job = True`` goes under ``nightcrew run``; the others are top-level.
"""
