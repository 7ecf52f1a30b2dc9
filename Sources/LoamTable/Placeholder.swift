enum _PlaceholderLoamTable {}
