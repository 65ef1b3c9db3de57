"""One module per rule. Each takes a Context (one device's readings while fitted to one person) and
returns violations; ``openem.engine.engine`` runs them in order."""
