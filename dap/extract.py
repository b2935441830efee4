"""Reading an extract folder into the warehouse's ``raw`` schema.

Every table of the contract is loaded as text (CSV as it arrived; Parquet values cast to text) with a
``_row_number`` (1-based row in its file), so that the dbt staging layer can cast each value and send
any row it cannot use to quarantine with a reason: no row is lost silently.

What stops a run here, before anything downstream is rebuilt, always naming the file, the column and an
example value: a fault of a whole file (a missing required table or column, a column named twice, a
file that is empty, not UTF-8 or unreadable, a CSV line with the wrong number of fields, a Parquet
column of a type the contract does not allow) and an unknown-offence-code share above the bad-row
threshold (``max_quarantined_share``: the wrong reference table fails here in seconds rather than in dbt).
Faults of single rows are not stopped here: dbt quarantines them, and refuses the run only when a
table's quarantined share passes the same threshold (docs/data-model.md, "Bad input").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from dap import settings
from dap.contract import MAX_QUARANTINED_SHARE, PARQUET_TYPES, TABLES, Table, parquet_type_accepted

FORMATS = ("parquet", "csv")
PSEUDONYMISATION_KEY_VARIABLE = "DA_PSEUDONYMISATION_KEY"
# Every column of the contract that holds a person ID.
PERSON_ID_COLUMNS = {
    "offenders": ("person_id",),
    "victims": ("person_id",),
    "witnesses": ("person_id",),
    "custody": ("person_id",),
    "programme_participants": ("person_id",),
    "relationships": ("victim_person_id", "offender_person_id", "witness_person_id"),
}


class ExtractError(Exception):
    """The extract cannot be used: names the file, the column and an example value."""

    def __init__(self, file: Path | str, problem: str, column: str | None = None, example: object = None):
        self.file = str(file)
        self.column = column
        self.example = example
        self.problem = problem
        where = f"{self.file}"
        if column:
            where += f", column '{column}'"
        message = f"{where}: {problem}"
        if example is not None:
            message += f" (example: {example!r})"
        super().__init__(message)


@dataclass
class LoadedTable:
    table: str
    source: str  # 'extract', 'shipped' (reference data of the project) or 'absent'
    file: str | None
    format: str | None
    sha256: str | None
    rows: int
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class LoadSummary:
    extract_dir: str
    tables: dict[str, LoadedTable]
    unknown_offence_code_share: float = 0.0
    warnings: list[str] = field(default_factory=list)
    pseudonymised: bool = False
    max_quarantined_share: float = MAX_QUARANTINED_SHARE

    def input_hashes(self) -> dict[str, str]:
        return {t.file: t.sha256 for t in self.tables.values() if t.file and t.sha256}

    def to_json(self) -> str:
        return json.dumps(
            {**asdict(self), "tables": {k: asdict(v) for k, v in self.tables.items()}},
            indent=2,
            sort_keys=True,
        )


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def find_table_file(directory: Path, table: str) -> Path | None:
    """The table's file in ``directory`` (Parquet preferred when both exist), or None."""
    for fmt in FORMATS:
        candidate = directory / f"{table}.{fmt}"
        if candidate.is_file():
            return candidate
    return None


def resolve_files(extract_dir: Path, reference_dir: Path | None = None) -> dict[str, tuple[Path | None, str]]:
    """Map every contract table to (file or None, source), applying reference-table precedence."""
    extract_dir = Path(extract_dir)
    if not extract_dir.exists():
        raise ExtractError(extract_dir, "extract folder does not exist (set DA_EXTRACT_DIR)")
    if not extract_dir.is_dir():
        raise ExtractError(extract_dir, "extract path is not a folder")
    reference_dir = Path(reference_dir or settings.REFERENCE_DIR)
    resolved: dict[str, tuple[Path | None, str]] = {}
    for name, spec in TABLES.items():
        path = find_table_file(extract_dir, name)
        if path is not None:
            resolved[name] = (path, "extract")
        elif spec.reference and (shipped := find_table_file(reference_dir, name)) is not None:
            resolved[name] = (shipped, "shipped")
        elif spec.required:
            raise ExtractError(
                extract_dir / f"{name}.csv|parquet",
                f"required table '{name}' is missing from the extract",
                example=sorted(p.name for p in extract_dir.iterdir() if p.is_file())[:8],
            )
        else:
            resolved[name] = (None, "absent")
    return resolved


def _check_utf8(path: Path) -> None:
    decoder_position = 0
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                offset = decoder_position + error.start
                bad = chunk[max(0, error.start - 20) : error.start + 20]
                line = _line_of_offset(path, offset)
                raise ExtractError(
                    path,
                    f"file is not UTF-8 (invalid byte at offset {offset}, line {line}); re-export it as UTF-8",
                    example=bad.decode("utf-8", errors="replace"),
                ) from None
            decoder_position += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ExtractError(path, "file ends in the middle of a UTF-8 character") from None


def _line_of_offset(path: Path, offset: int) -> int:
    with open(path, "rb") as handle:
        return handle.read(offset).count(b"\n") + 1


def _source_sql(path: Path) -> str:
    quoted = str(path).replace("'", "''")
    if path.suffix == ".parquet":
        return f"read_parquet('{quoted}')"
    return (
        f"read_csv('{quoted}', header=true, all_varchar=true, delim=',', quote='\"', escape='\"', "
        "null_padding=false, auto_detect=false, columns=__COLUMNS__)"
    )


def _file_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    if path.stat().st_size == 0:
        raise ExtractError(path, "file is empty (not even a header row)")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception as error:  # pyarrow raises several types for corrupt files
            raise ExtractError(
                path, f"cannot read Parquet file (truncated or corrupt): {_first_line(error)}"
            ) from None
    _check_utf8(path)
    with open(path, encoding="utf-8", newline="") as handle:
        import csv

        header = next(csv.reader(handle), None)
    if not header:
        raise ExtractError(path, "file has no header row")
    return [h.strip().lstrip("\ufeff") for h in header]


@dataclass(frozen=True)
class FileHeader:
    found: list[str]  # the file's columns, as written (surrounding spaces and a byte-order mark removed)
    columns: dict[str, str]  # contract column -> the file's column that holds it


def check_file(con: duckdb.DuckDBPyConnection, spec: Table, path: Path) -> FileHeader:
    """The file-level checks of one table's file; returns where each contract column is in it.

    Headers are matched ignoring case and surrounding spaces (``" Crime_Number "`` is ``crime_number``).
    Refused, naming the file, the column and an example: an empty or unreadable file, a missing column,
    a column named twice, a Parquet column whose type the contract does not allow (dap.contract.PARQUET_TYPES).
    """
    found = _file_columns(con, path)
    normalised: dict[str, str] = {}
    for column in found:
        key = column.strip().lower()
        if key in normalised:
            raise ExtractError(
                path,
                f"column '{key}' appears twice in the header",
                column=key,
                example=f"columns found: {found}",
            )
        normalised[key] = column
    missing = [c for c in spec.column_names if c not in normalised]
    if missing:
        raise ExtractError(
            path,
            f"required column '{missing[0]}' is missing"
            + (f" (and {len(missing) - 1} more: {missing[1:]})" if len(missing) > 1 else ""),
            column=missing[0],
            example=f"columns found: {found}",
        )
    if path.suffix == ".parquet":
        _check_parquet_types(con, spec, path, normalised)
    return FileHeader(found, {c: normalised[c] for c in spec.column_names})


def _check_parquet_types(
    con: duckdb.DuckDBPyConnection, spec: Table, path: Path, columns: dict[str, str]
) -> None:
    source = _source_sql(path)
    try:
        described = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    except duckdb.Error as error:
        raise ExtractError(path, f"cannot read Parquet file: {_first_line(error)}") from None
    for column in spec.columns:
        found_type = described.get(columns[column.name], "")
        if parquet_type_accepted(column.type, found_type):
            continue
        quoted = columns[column.name].replace('"', '""')
        try:
            row = con.execute(
                f'SELECT CAST("{quoted}" AS VARCHAR) FROM {source} WHERE "{quoted}" IS NOT NULL LIMIT 1'
            ).fetchone()
        except duckdb.Error:
            row = None
        hint = ""
        if found_type.upper().startswith("TIMESTAMP WITH TIME ZONE"):
            hint = "; the contract's timestamps are local time without a time zone: export them as such"
        elif column.type == "timestamp":
            hint = "; export it as a Parquet timestamp (no time zone) or as text YYYY-MM-DD HH:MM:SS"
        elif column.type == "date":
            hint = "; export it as a Parquet date or as text YYYY-MM-DD"
        raise ExtractError(
            path,
            f"Parquet column of type {found_type} where the contract wants {column.type} "
            f"(accepted: text or {_accepted_types(column.type)}){hint}",
            column=column.name,
            example=row[0] if row else None,
        )


def _accepted_types(logical_type: str) -> str:
    return ", ".join(t for t in PARQUET_TYPES[logical_type] if t != "VARCHAR")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _csv_error(path: Path, error: duckdb.Error) -> ExtractError:
    """A CSV that DuckDB cannot split into the header's columns: name the line and show it."""
    import re

    text = str(error)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    original = re.search(r"Original Line: (.*)", text)
    counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if line and counts:
        return ExtractError(
            path,
            f"line {line.group(1)} has {counts.group(2)} fields where the header has {counts.group(1)} "
            "(a comma or a quote inside an unquoted value?); the file cannot be split into columns safely",
            example=original.group(1) if original else None,
        )
    return ExtractError(path, f"cannot read CSV file: {_first_line(error)}")


def load_table(
    con: duckdb.DuckDBPyConnection,
    spec: Table,
    path: Path | None,
    source: str,
    header: FileHeader | None = None,
) -> LoadedTable:
    """Load one table into ``raw.<name>`` as text plus ``_row_number``; an absent optional table is empty.

    ``header`` comes from :func:`check_file`, which is run when it is not given.
    """
    target = f'raw."{spec.name}"'
    if path is None:
        columns_sql = ", ".join(f'CAST(NULL AS VARCHAR) AS "{c}"' for c in spec.column_names)
        con.execute(
            f"CREATE OR REPLACE TABLE {target} AS SELECT {columns_sql}, CAST(NULL AS BIGINT) AS _row_number LIMIT 0"
        )
        return LoadedTable(spec.name, "absent", None, None, None, 0)

    header = header or check_file(con, spec, path)
    found, columns = header.found, header.columns
    extra = [c for c in found if c.strip().lower() not in spec.column_names]
    source_sql = _source_sql(path)
    if path.suffix == ".csv":
        struct = ", ".join("'" + c.replace("'", "''") + "': 'VARCHAR'" for c in found)
        source_sql = source_sql.replace("__COLUMNS__", "{" + struct + "}")
    select = ", ".join(
        f'CAST("{columns[c].replace(chr(34), chr(34) * 2)}" AS VARCHAR) AS "{c}"' for c in spec.column_names
    )
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {target} AS "
            f"SELECT {select}, CAST(row_number() OVER () AS BIGINT) AS _row_number FROM {source_sql}"
        )
    except duckdb.Error as error:
        if path.suffix == ".csv":
            raise _csv_error(path, error) from None
        raise ExtractError(path, f"cannot read Parquet file: {_first_line(error)}") from None
    rows = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
    return LoadedTable(spec.name, source, str(path), path.suffix.lstrip("."), sha256_file(path), rows, extra)


def load_raw(
    con: duckdb.DuckDBPyConnection,
    extract_dir: Path | str,
    reference_dir: Path | str | None = None,
    max_quarantined_share: float = MAX_QUARANTINED_SHARE,
    progress=None,
) -> LoadSummary:
    """Load the whole extract into ``raw``; raise :class:`ExtractError` before touching anything on bad input.

    All files are checked (readable, columns present and of an allowed type) before the first table is
    replaced, so a failed check leaves the previous raw tables as they were. ``max_quarantined_share`` is
    the run's bad-row threshold: it is recorded per table in ``raw._load_log``, where the dbt staging layer
    reads it (docs/data-model.md, "Bad input").
    """
    if not 0.0 <= max_quarantined_share <= 1.0:
        raise ValueError(f"max_quarantined_share must be between 0 and 1, not {max_quarantined_share!r}")
    extract_dir = Path(extract_dir)
    con.execute("SET enable_progress_bar = false")
    resolved = resolve_files(extract_dir, Path(reference_dir) if reference_dir else None)
    # Pre-flight: every file-level check of every file before anything is written.
    headers = {
        name: check_file(con, TABLES[name], path)
        for name, (path, _source) in resolved.items()
        if path is not None
    }
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    loaded: dict[str, LoadedTable] = {}
    warnings: list[str] = []
    for name, (path, source) in resolved.items():
        if progress:
            progress(name)
        loaded[name] = load_table(con, TABLES[name], path, source, headers.get(name))
        if loaded[name].extra_columns:
            warnings.append(
                f"{path}: ignored {len(loaded[name].extra_columns)} column(s) not in the contract: "
                f"{loaded[name].extra_columns}"
            )
    key = os.environ.get(PSEUDONYMISATION_KEY_VARIABLE, "")
    if key:
        pseudonymise_person_ids(con, key)
    unknown, total, example = _unknown_offence_codes(con)
    unknown_share = unknown / total if total else 0.0
    if exceeds_threshold(unknown, total, max_quarantined_share):
        raise ExtractError(
            loaded["crimes"].file or "crimes",
            f"{unknown_share:.1%} of crimes ({unknown:,} of {total:,}) have an offence code not in ref_offences, "
            f"above the bad-row threshold max_quarantined_share = {max_quarantined_share:.1%}; "
            "is the reference table the right one?",
            column="offence_code",
            example=example,
        )
    if unknown:
        warnings.append(
            f"{unknown_share:.2%} of crimes have an unknown offence code (e.g. {example!r}); they are quarantined"
        )
    summary = LoadSummary(
        str(extract_dir),
        loaded,
        unknown_share,
        warnings,
        pseudonymised=bool(key),
        max_quarantined_share=max_quarantined_share,
    )
    _write_load_log(con, summary)
    return summary


def exceeds_threshold(bad_rows: int, rows: int, max_share: float) -> bool:
    """The bad-row rule: more than ``max_share`` of the rows, and more than one row (a single bad row never
    refuses a table). The dbt test ``quarantined_share_within_threshold`` applies the same rule."""
    return bad_rows > 1 and bad_rows > max_share * rows


def pseudonym(person_id: str, key: str) -> str:
    """A keyed pseudonym (HMAC-SHA256): the same person gets the same pseudonym in every extract loaded
    with the same key; without the key the original ID cannot be recovered or checked."""
    digest = hmac.new(key.encode("utf-8"), person_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return "PS" + digest[:20]


def pseudonymise_person_ids(con: duckdb.DuckDBPyConnection, key: str) -> int:
    """Replace every person ID in the raw tables by its keyed pseudonym; returns the number of distinct IDs."""
    import pandas as pd

    union = " UNION ".join(
        f'SELECT DISTINCT "{column}" AS person_id FROM raw."{table}" WHERE "{column}" IS NOT NULL'
        for table, columns in PERSON_ID_COLUMNS.items()
        for column in columns
    )
    ids = [r[0] for r in con.execute(union).fetchall()]
    mapping = pd.DataFrame({"person_id": ids, "pseudonym": [pseudonym(i, key) for i in ids]})
    con.register("_pseudonyms", mapping)
    try:
        for table, columns in PERSON_ID_COLUMNS.items():
            for column in columns:
                con.execute(
                    f'UPDATE raw."{table}" AS t SET "{column}" = p.pseudonym FROM _pseudonyms p '
                    f'WHERE t."{column}" = p.person_id'
                )
    finally:
        con.unregister("_pseudonyms")
    return len(ids)


def _unknown_offence_codes(con: duckdb.DuckDBPyConnection) -> tuple[int, int, str | None]:
    """(crimes whose offence code is not in the raw ref_offences, crimes, an example code)."""
    total, unknown, example = con.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE r.offence_code IS NULL),
               min(trim(c.offence_code)) FILTER (WHERE r.offence_code IS NULL)
        FROM raw.crimes c
        LEFT JOIN (SELECT DISTINCT upper(trim(offence_code)) AS offence_code FROM raw.ref_offences) r
          ON upper(trim(c.offence_code)) = r.offence_code
        """
    ).fetchone()
    return unknown, total, example


def _write_load_log(con: duckdb.DuckDBPyConnection, summary: LoadSummary) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE raw._load_log (table_name VARCHAR, source VARCHAR, file VARCHAR, "
        "format VARCHAR, sha256 VARCHAR, rows_read BIGINT, extra_columns VARCHAR, max_quarantined_share DOUBLE)"
    )
    for t in summary.tables.values():
        con.execute(
            "INSERT INTO raw._load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                t.table,
                t.source,
                t.file,
                t.format,
                t.sha256,
                t.rows,
                ";".join(t.extra_columns),
                summary.max_quarantined_share,
            ],
        )
