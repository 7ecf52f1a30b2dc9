enum _PlaceholderLoam {}
