"""The admin API and admin center."""
