"""Rules for tenant slugs, each violation phrased so the operator knows what to change."""

from __future__ import annotations

import re

RESERVED_SLUGS = frozenset(
    {
        "public", "www", "admin", "api", "static", "media", "app", "dashboard", "console", "operator",
        "mail", "smtp", "ftp", "root", "system", "postgres", "pg", "information-schema", "default",
        "localhost", "test", "status", "help", "docs", "support", "internal",
    }
)  # fmt: skip
SLUG_MIN, SLUG_MAX = 3, 40


class InvalidSlug(ValueError):
    pass


def validate_tenant_slug(slug: str) -> str:
    """Return the slug if it is acceptable, else raise InvalidSlug naming the rule it breaks."""
    if not isinstance(slug, str) or not slug:
        raise InvalidSlug("The tenant slug is empty: choose 3–40 lowercase letters, digits or hyphens.")
    if len(slug) < SLUG_MIN:
        raise InvalidSlug(f"The tenant slug '{slug}' is too short: it needs at least {SLUG_MIN} characters.")
    if len(slug) > SLUG_MAX:
        raise InvalidSlug(f"The tenant slug '{slug[:50]}' is too long: at most {SLUG_MAX} characters.")
    if slug != slug.lower():
        raise InvalidSlug(
            f"The tenant slug '{slug}' has uppercase letters: use lowercase only ('{slug.lower()}')."
        )
    bad = sorted({c for c in slug if not re.fullmatch(r"[a-z0-9-]", c)})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise InvalidSlug(
            f"The tenant slug '{slug}' contains {shown}: only lowercase letters, digits and hyphens are allowed."
        )
    if slug.startswith("-") or slug.endswith("-"):
        raise InvalidSlug(
            f"The tenant slug '{slug}' must start and end with a letter or digit, not a hyphen."
        )
    if "--" in slug:
        raise InvalidSlug(f"The tenant slug '{slug}' has two hyphens in a row: use single hyphens.")
    if slug in RESERVED_SLUGS or slug.startswith("pg-"):
        raise InvalidSlug(f"The tenant slug '{slug}' is reserved by the platform: choose another name.")
    return slug


def schema_name_for(slug: str) -> str:
    """PostgreSQL schema for a tenant; hyphens are not valid there, and slugs never hold underscores."""
    return "t_" + slug.replace("-", "_")
