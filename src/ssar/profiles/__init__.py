"""Identity verification profiles: who may recover how, and which profile applies to a user."""
