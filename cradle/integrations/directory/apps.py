from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "cradle.integrations.directory"
    label = "directory"
    verbose_name = "Hospital directory (LDAP, OpenID Connect)"
