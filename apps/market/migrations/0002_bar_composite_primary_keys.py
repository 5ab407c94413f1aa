"""DailyBar and MinuteBar: the natural key (code, date) / (code, time) becomes the primary key.

Django cannot alter a table to or from a composite primary key, so each table is rebuilt: the
old table is renamed aside (with its indexes, whose names are database-wide on PostgreSQL),
the new table is created from the migration state, the rows are copied in key order, and the
old table is dropped. Works on PostgreSQL and SQLite and keeps every stored bar; reversible
(the way back gives the rows new surrogate ids).
"""

from django.db import migrations, models


class RebuildWithCompositePrimaryKey(migrations.operations.base.Operation):
    reversible = True

    def __init__(self, model_name, key):
        self.model_name = model_name
        self.key = key

    def deconstruct(self):
        return (self.__class__.__name__, [], {"model_name": self.model_name, "key": self.key})

    def _state_operations(self):
        return [
            migrations.RemoveConstraint(
                model_name=self.model_name, name=f"market_{self.model_name}_uniq"
            ),
            migrations.RemoveField(model_name=self.model_name, name="id"),
            migrations.AddField(
                model_name=self.model_name,
                name="pk",
                field=models.CompositePrimaryKey(
                    "instrument",
                    self.key,
                    blank=True,
                    editable=False,
                    primary_key=True,
                    serialize=False,
                ),
            ),
        ]

    def state_forwards(self, app_label, state):
        for operation in self._state_operations():
            operation.state_forwards(app_label, state)

    def _rebuild(self, app_label, schema_editor, from_state, to_state):
        source = from_state.apps.get_model(app_label, self.model_name)
        target = to_state.apps.get_model(app_label, self.model_name)
        connection = schema_editor.connection
        if not self.allow_migrate_model(connection.alias, target):
            return
        quote = schema_editor.quote_name
        table = target._meta.db_table
        aside = f"{table}_rebuild"
        schema_editor.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(aside)}")
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Index names are schema-wide: move the old ones out of the new table's way
                # (renaming a constraint's index renames the constraint too).
                cursor.execute(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE i.indrelid = %s::regclass",
                    [aside],
                )
                for (index,) in cursor.fetchall():
                    schema_editor.execute(
                        f"ALTER INDEX {quote(index)} RENAME TO {quote((index + '_rebuild')[-63:])}"
                    )
            elif connection.vendor == "sqlite":
                cursor.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                    "AND sql IS NOT NULL",
                    [aside],
                )
                for (index,) in cursor.fetchall():
                    schema_editor.execute(f"DROP INDEX {quote(index)}")
        schema_editor.create_model(target)
        columns = ", ".join(
            quote(f.column)
            for f in target._meta.local_concrete_fields
            if f.column
            and f.column in {g.column for g in source._meta.local_concrete_fields}
            and not (f.primary_key and f.auto_created)
        )
        key = f"{quote('code')}, {quote(self.key)}"
        schema_editor.execute(
            f"INSERT INTO {quote(table)} ({columns}) "
            f"SELECT {columns} FROM {quote(aside)} ORDER BY {key}"
        )
        schema_editor.execute(f"DROP TABLE {quote(aside)}")

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._rebuild(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._rebuild(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"Rebuild {self.model_name} with primary key (instrument, {self.key})"

    @property
    def migration_name_fragment(self):
        return f"{self.model_name}_composite_pk"


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0001_initial"),
    ]

    operations = [
        RebuildWithCompositePrimaryKey("dailybar", "date"),
        RebuildWithCompositePrimaryKey("minutebar", "time"),
    ]
