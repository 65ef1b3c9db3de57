from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "openem.accounts"
    label = "accounts"
    verbose_name = "Users and teams"
