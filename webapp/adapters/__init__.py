"""Teaching the model: training data, PEFT training runs, the adapter registry, switching."""
