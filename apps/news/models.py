"""The news app's tables: news items and their scores."""
