"""The strategy app's tables: the opening scanner's runs, strategy configurations and signals."""
