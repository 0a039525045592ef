from django.apps import AppConfig


class AdtConfig(AppConfig):
    name = "cradle.integrations.adt"
    label = "adt"
    verbose_name = "Admission feed (HL7 v2 ADT)"
