"""What a run's prompts cost per vote, and how much of them the server's prefix cache saved.

Servers with prefix caching (llama.cpp, vLLM, OpenAI) evaluate a prompt's shared start once and
say how much they reused: ``usage.prompt_tokens_details.cached_tokens`` (OpenAI, vLLM and
llama.cpp) or llama.cpp's ``timings.cache_n``.  :class:`Costs` adds these up over a run's answers
(where the server says nothing, the hit rate is unknown: ``None``), and the votes the answers gave,
for the run's metrics (``LLMSession.summary``).

>>> c = Costs()
>>> c.observe({"usage": {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 80}}})
>>> c.observe({"usage": {"prompt_tokens": 100}, "timings": {"cache_n": 60, "prompt_n": 40}})
>>> c.votes += 4
>>> c.summary()
{'prompt_tokens_per_vote': 50.0, 'server_cached_tokens': 140, 'server_cache_hit_rate': 0.7}
"""

from __future__ import annotations

from typing import Any

__all__ = ["Costs"]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def cached_tokens(completion: Any) -> int | None:
    """Prompt tokens the server took from its prefix cache for one answer, if it says."""
    if not isinstance(completion, dict):
        return None
    usage = completion.get("usage") if isinstance(completion.get("usage"), dict) else {}
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and _int(details.get("cached_tokens")) is not None:
        return details["cached_tokens"]
    timings = completion.get("timings")
    return _int(timings.get("cache_n")) if isinstance(timings, dict) else None


class Costs:
    """Prompt tokens sent, those the server said it had cached, and votes cast, over a run."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.reported_prompt_tokens = 0
        self.cached_tokens = 0
        self.votes = 0

    def observe(self, completion: Any) -> None:
        """Count one answer's prompt tokens, and its cached ones where the server reports them."""
        usage = completion.get("usage") if isinstance(completion, dict) else None
        tokens = _int(usage.get("prompt_tokens")) if isinstance(usage, dict) else None
        self.prompt_tokens += tokens or 0
        cached = cached_tokens(completion)
        if cached is not None and tokens:
            self.cached_tokens += min(cached, tokens)
            self.reported_prompt_tokens += tokens

    def summary(self) -> dict[str, Any]:
        """Prompt tokens per vote cast (None before any vote) and the server's prefix-cache hit rate
        over the answers that report it (None when none do)."""
        return {
            "prompt_tokens_per_vote": self.prompt_tokens / self.votes if self.votes else None,
            "server_cached_tokens": self.cached_tokens,
            "server_cache_hit_rate": self.cached_tokens / self.reported_prompt_tokens
            if self.reported_prompt_tokens
            else None,
        }
