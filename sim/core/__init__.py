"""The ground layer: the types every other part speaks (case, transcript, actions, verdict, episode record,
configuration, errors) and their readers. It imports nothing else of the project, so every layer above
can build on it without importing another."""
