enum _PlaceholderLoamStorage {}
