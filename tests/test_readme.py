"""The README is the user's manual: it must name every command, exit status,
config key and table column that exists."""

from __future__ import annotations

import re

import pytest
from conftest import MAIN_CONFIG, PROJECT_ROOT

from pipeline import store
from pipeline.cli import main
from pipeline.config import SiteConfig

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", sorted(main.commands))
def test_readme_documents_every_command(command: str) -> None:
    assert f"### `pipeline {command}`" in README


@pytest.mark.parametrize("status", [0, 1, 2, 3, 4, 5, 6])
def test_readme_documents_every_exit_status(status: int) -> None:
    assert re.search(rf"^\| {status} \| ", README, re.MULTILINE)


def _config_keys() -> list[str]:
    keys = []
    for section, model in SiteConfig.model_fields.items():
        for name in model.annotation.model_fields:  # type: ignore[union-attr]
            keys.append(f"{section}.{name}")
    return [key for key in keys if key != "detail.fields"]


@pytest.mark.parametrize("key", _config_keys())
def test_readme_documents_every_config_key(key: str) -> None:
    assert f"| `{key}` |" in README


def test_readme_documents_every_table_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = store.open_database(tmp_path / "db.sqlite")
    from pipeline.config import load_config

    store.ensure_field_columns(database, list(load_config(MAIN_CONFIG).detail.fields))
    missing = []
    for table in ("projects", "runs", "raw_pages", "project_themes", "changes", "fetch_failures"):
        for column in database[table].columns_dict:
            if f"`{column}`" not in README:
                missing.append(f"{table}.{column}")
    database.close()

    assert missing == []


def test_datasette_metadata_describes_every_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    metadata = json.loads((PROJECT_ROOT / "config" / "datasette-metadata.json").read_text(encoding="utf-8"))
    database = store.open_database(tmp_path / "db.sqlite")
    from pipeline.config import load_config

    store.ensure_field_columns(database, list(load_config(MAIN_CONFIG).detail.fields))
    missing = []
    for name, described in metadata["databases"].items():
        for table in ("projects", "runs", "raw_pages", "project_themes", "changes", "fetch_failures"):
            columns = described["tables"][table].get("columns", {})
            missing += [f"{name}.{table}.{c}" for c in database[table].columns_dict if c not in columns]
    database.close()

    assert sorted(metadata["databases"]) == ["demo", "projects"]
    assert missing == []
