"""Workspace roles (owner, admin, member, viewer) as auth groups in each tenant's schema.

Users who were there before roles keep what they could do in the tenant admin: superusers (the
tenant's first admin, made by `tenant_create --admin-email`) become owners, staff become admins.
Everyone else becomes a viewer, since their rights were never granted on purpose: an owner can
raise them.
"""

from django.db import migrations

ROLES = ("viewer", "member", "admin", "owner")


def give_roles(apps, schema_editor):
    group_model = apps.get_model("auth", "Group")
    user_model = apps.get_model("auth", "User")
    groups = {name: group_model.objects.get_or_create(name=name)[0] for name in ROLES}
    for user in user_model.objects.all():
        if user.groups.filter(name__in=ROLES).exists():
            continue
        role = "owner" if user.is_superuser else "admin" if user.is_staff else "viewer"
        user.groups.add(groups[role])


class Migration(migrations.Migration):
    dependencies = [
        ("inference", "0002_model_last_version_number"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(give_roles, migrations.RunPython.noop)]
