"""The gate every external action passes: policy first, then the action, then an audit record."""

from jobs.tools.gate import ACTIONS, Denied, Gate

__all__ = ["ACTIONS", "Denied", "Gate"]
