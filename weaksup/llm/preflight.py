"""Fail fast: check the model server once, before a run sends its first prompt.

Without it, a wrong ``base_url`` cost every prompt its retries (298 prompts at ``max_attempts = 3``
took 101 s) and the run "succeeded" with its prompted LFs contributing nothing; with no
``base_url`` and no key it hung offline, retrying, without saying that the key was missing.

:func:`preflight` asks the server for its models once (``GET <base_url>/models``, a
:data:`PREFLIGHT_TIMEOUT` second timeout, no retry) and raises :class:`LLMSetupError` within
seconds, naming what to fix:

- no ``base_url`` (nor ``$OPENAI_BASE_URL``) and the key's variable unset: the variable, before
  any connection is tried;
- the server unreachable (refused, unknown host, no answer in time): the URL;
- the key refused (401, 403): the variable that holds it.

A server without a models route (404) or one that errs (5xx) passes: it is reachable, and the first
prompt's own answer says more.  The check runs before the first request of a run, not when the
run opens, so a run whose every prompt is answered from the cache works with the server down.
:func:`check_once` runs it once per run (per applier state).

>>> from weaksup.llm.client import LLMSettings
>>> import os; os.environ.pop("WS_NO_SUCH_KEY", None)
>>> preflight(LLMSettings(api_key_env="WS_NO_SUCH_KEY"))
Traceback (most recent call last):
...
weaksup.llm.client.LLMSetupError: no model server is set ([llm] base_url and $OPENAI_BASE_URL are unset), so prompts would go to OpenAI's API, whose key the environment variable WS_NO_SUCH_KEY should hold, and it is not set: set WS_NO_SUCH_KEY, or point [llm] base_url (or $OPENAI_BASE_URL) at your server (a local model: `weaksup serve-model`)
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai

from weaksup.llm.client import NO_KEY, LLMSettings, LLMSetupError

__all__ = ["PREFLIGHT_TIMEOUT", "check_once", "preflight", "shown"]

PREFLIGHT_TIMEOUT = 5.0
"""Seconds the models call may take (or the request timeout, if shorter)."""
STATE_KEY = "prompt.preflight"


def shown(url: str | None) -> str:
    """The server's URL as messages show it: without a password; OpenAI's API when unset."""
    if not url:
        return "OpenAI's API"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=host))


def preflight(settings: LLMSettings) -> None:
    """Check that the server answers and takes the key (module docstring); raise :class:`LLMSetupError` if not."""
    key = os.environ.get(settings.api_key_env)
    if settings.base_url is None and not key:
        raise LLMSetupError(
            "no model server is set ([llm] base_url and $OPENAI_BASE_URL are unset), so prompts would go to "
            f"OpenAI's API, whose key the environment variable {settings.api_key_env} should hold, and it is not "
            f"set: set {settings.api_key_env}, or point [llm] base_url (or $OPENAI_BASE_URL) at your server "
            "(a local model: `weaksup serve-model`)"
        )
    timeout = min(PREFLIGHT_TIMEOUT, settings.timeout)
    client = openai.OpenAI(base_url=settings.base_url, api_key=key or NO_KEY, max_retries=0, timeout=timeout)
    try:
        client.models.list()
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise LLMSetupError(
            f"the model server at {shown(settings.base_url)} refused the credentials (HTTP {exc.status_code}); "
            f"set the environment variable {settings.api_key_env} to a key it accepts"
            + ("" if key else f" ({settings.api_key_env} is not set)")
        ) from None
    except openai.APIConnectionError as exc:
        why = "no answer within {:g} s".format(timeout) if isinstance(exc, openai.APITimeoutError) else _cause(exc)
        raise LLMSetupError(
            f"cannot reach the model server at {shown(settings.base_url)} ({why}); start it (a local model: "
            "`weaksup serve-model`) or fix [llm] base_url (or $OPENAI_BASE_URL)"
        ) from None
    except openai.APIStatusError:
        pass  # reachable: a server without a models route, or a passing fault; the prompts' answers say more
    finally:
        client.close()


def _cause(exc: BaseException) -> str:
    """The innermost reason of a connection error ("Connection refused"), short."""
    inner: BaseException = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        inner = inner.__cause__ or inner.__context__  # type: ignore[assignment]
    text = str(inner) or type(inner).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def check_once(state: dict[str, Any], settings: LLMSettings) -> None:
    """:func:`preflight`, the first time a run (an applier state) is about to send a request."""
    if not state.get(STATE_KEY):
        preflight(settings)
        state[STATE_KEY] = True
