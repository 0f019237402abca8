"""Implementation of ``xtrace.nn``: activations, softmax/logsumexp, one_hot, initializers."""
