"""Optional language-model help (off by default): a gated text-only client and the grounding rule for its output."""

from jobs.llm.client import LLM, LLMError, Reply, build_llm
from jobs.llm.grounding import Grounded, Item, Point, neutralize, render_data, system_prompt, validate

__all__ = ["LLM", "LLMError", "Reply", "build_llm", "Grounded", "Item", "Point", "neutralize", "render_data",
           "system_prompt", "validate"]
