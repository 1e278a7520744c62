"""Release notes: the range of changes between tags, enrichment from the forge, categories, the draft."""
