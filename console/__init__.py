"""The operator console: the platform's pages that read both the tenants and what runs in them."""
