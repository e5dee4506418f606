"""The directory: users, nested groups, notification addresses, SCIM 2.0."""
