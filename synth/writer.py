"""Writing extract tables: Parquet (streamed with ParquetWriter) or CSV, with the contract's formats."""

from __future__ import annotations

from pathlib import Path


def write_csv(table, path: Path) -> None:
    import pyarrow.csv as pacsv

    # Strings are "-quoted, NULL is empty, timestamps 'YYYY-MM-DD HH:MM:SS', dates 'YYYY-MM-DD',
    # booleans true/false (pyarrow's defaults for these types).
    pacsv.write_csv(table, str(path), pacsv.WriteOptions(quoting_style="needed"))


class TableSink:
    """Appends chunks of one table to one file (Parquet or CSV) without holding the whole table."""

    def __init__(self, path: Path, schema, fmt: str):
        self.path = path
        self.schema = schema
        self.fmt = fmt
        self._writer = None
        self.rows = 0

    def write(self, table) -> None:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = table.cast(self.schema)
        if self._writer is None:
            if self.fmt == "parquet":
                self._writer = pq.ParquetWriter(
                    str(self.path), self.schema, compression="zstd", write_statistics=True
                )
            else:
                self._writer = pacsv.CSVWriter(
                    str(self.path), self.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
                )
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is None:  # an empty table still gets a file with its header / schema
            self.write(self.schema.empty_table())
        self._writer.close()


def write_table(table, path_stem: Path, fmt: str) -> Path:
    import pyarrow.parquet as pq

    path = path_stem.with_suffix(f".{fmt}")
    if fmt == "parquet":
        pq.write_table(table, str(path), compression="zstd")
    else:
        write_csv(table, path)
    return path
