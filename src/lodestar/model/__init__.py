"""Pure domain types: asset kinds, FQNs, references, change descriptions."""
