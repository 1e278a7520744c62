"""The gate every external action passes: kill switch, policy, then the action, then an audit record."""

from jobs.tools.gate import ACTIONS, Denied, Gate, Stopped
from jobs.tools.policy import Policy, Subject

__all__ = ["ACTIONS", "Denied", "Gate", "Policy", "Stopped", "Subject"]
