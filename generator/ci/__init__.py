"""What CI and reviewers run: `gen-model verify`/`adopt`, `review` and `diff`."""
