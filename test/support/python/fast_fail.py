"""Calls the sidecar once with an official Python SDK at its default settings (max_retries=2,
no options) and prints one JSON line: how long the app waited for the error, and what it got.

Usage: fast_fail.py openai|anthropic BASE_URL
"""

import json
import sys
import time

sdk, base_url = sys.argv[1], sys.argv[2]

if sdk == "openai":
    import openai as module

    client = module.OpenAI(api_key="sk-app", base_url=base_url)
    # Resolved before the clock starts: the SDK imports its resource modules lazily on first
    # attribute access, a one-time cost of the process, not of the request.
    create = client.chat.completions.create

    def call():
        return create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

else:
    import anthropic as module

    client = module.Anthropic(api_key="sk-app", base_url=base_url)
    create = client.messages.create

    def call():
        return create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
        )


def attempt():
    """One call as the app makes it: the time until it raises, and what it raised."""
    started = time.perf_counter()
    try:
        call()
        return {"ok": True, "ms": (time.perf_counter() - started) * 1000}
    except module.APIStatusError as error:
        ms = (time.perf_counter() - started) * 1000
        body = error.body if isinstance(error.body, dict) else {}
        # OpenAI puts the error object at the top of `body`, Anthropic under "error".
        detail = body.get("error", body) if sdk == "anthropic" else body
        return {
            "ok": False,
            "ms": ms,
            "status": error.status_code,
            "code": detail.get("code") if isinstance(detail, dict) else None,
            "x_should_retry": error.response.headers.get("x-should-retry"),
            "retry_after": error.response.headers.get("retry-after"),
        }


# The first call of a process also pays the SDK's one-time set-up (pydantic builds its models'
# validators on first use); the second is what every later request of an app in an outage sees.
first = attempt()
second = attempt()
print(
    json.dumps(
        {
            "sdk": sdk,
            "version": module.__version__,
            "max_retries": client.max_retries,
            **first,
            "ms_first": first["ms"],
            "ms": second["ms"],
        }
    )
)
