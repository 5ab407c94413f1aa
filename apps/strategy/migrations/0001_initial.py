from django.db import migrations


class Migration(migrations.Migration):
    """The app's first migration (empty): the scanner's and the engine's tables follow it."""

    initial = True
    dependencies: list[tuple[str, str]] = []
    operations: list[migrations.operations.base.Operation] = []
