"""Renderers: turn a job's report into JSON (a stable schema) or a table for people."""
