"""Clients of outside services (I/O lives here, not in the science core): `llm` is the
OpenAI-compatible HTTP client with its SQLite reply cache, used by the LLM matcher, the judge
runner, decomposition and the policy reward."""
