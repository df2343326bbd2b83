"""The one LLM call: retrieval, the prompt, token estimates, prices, settings and providers."""
