"""Framework-free helpers: environment, phone numbers, dates, money."""
