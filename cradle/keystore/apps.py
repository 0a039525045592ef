from django.apps import AppConfig


class KeystoreConfig(AppConfig):
    name = "cradle.keystore"
    label = "keystore"
