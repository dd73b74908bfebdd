"""Tenant-schema tables: datasets, training jobs, models and their versions."""
