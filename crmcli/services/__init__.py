"""Use cases that combine the store, the metrics and the config: the due list and its
digest, the client card, the summary, cadence, tiers, the model fit, the demo book."""
