"""Run a NeMo-Aligner script with the per-job reward token on every request its client sends.

NeMo-Aligner v0.7.0's reward client (`nemo_aligner/servers/http_communicator.py`) builds
`pytriton.client.FuturesModelClient(url, name, init_timeout_s=6000, inference_timeout_s=600000)`
and sends no headers. pytriton's HTTP clients are `tritonclient.http.InferenceServerClient`s,
which run a registered client plugin on every request (`_call_plugin`, public `register_plugin`).
This launcher registers one that adds `Authorization: Bearer $RCSTUDIO_REWARD_TOKEN` to each
client pytriton creates, then runs the script as `__main__` (Hydra finds its conf by `__file__`).
The token is read from the environment only; it never reaches argv, a file or a log.

Copied into `compiled/actor_auth.py` of each run (the actor's container has no rcstudio), so it
imports nothing but the standard library and tritonclient.

Usage: python actor_auth.py SCRIPT [script args...]
"""

from __future__ import annotations

import os
import runpy
import sys

TOKEN_ENV = "RCSTUDIO_REWARD_TOKEN"


class BearerToken:
    """A tritonclient client plugin: sets the Authorization header of each request."""

    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    def __call__(self, request) -> None:
        if request.headers is None:
            request.headers = {}
        request.headers["Authorization"] = self._value

    def __repr__(self) -> str:  # never print the token
        return "BearerToken(***)"


def install(token: str) -> None:
    """Make every tritonclient HTTP client created from now on send `token`."""
    import tritonclient.http as http

    cls = http.InferenceServerClient
    if getattr(cls, "_rcstudio_auth", False):
        return
    original = cls.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.register_plugin(BearerToken(token))

    cls.__init__ = __init__
    cls._rcstudio_auth = True
    cls._rcstudio_original_init = original


def uninstall() -> None:
    """Undo `install` (tests share one process with other clients)."""
    import tritonclient.http as http

    cls = http.InferenceServerClient
    if getattr(cls, "_rcstudio_auth", False):
        cls.__init__ = cls._rcstudio_original_init
        del cls._rcstudio_auth, cls._rcstudio_original_init


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: actor_auth.py SCRIPT [ARGS...]")
    token = os.environ.get(TOKEN_ENV, "")
    if token:
        install(token)
    else:
        print(f"actor_auth: {TOKEN_ENV} is empty; the reward server will refuse requests if it wants a token",
              file=sys.stderr)
    script = argv[0]
    sys.argv = [script, *argv[1:]]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
