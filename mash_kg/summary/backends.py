"""Where the counting plan runs: DuckDB on one machine, or Spark (local or a cluster).

Both backends offer the same small interface to `mash_kg.summary.engine`: register an input
file (CSV, Athena's tab-separated CSV, or Parquet) as a view of trimmed strings, register a
small pandas frame, materialise a query, fetch a query as Arrow. Malformed input found while
reading is located by `locate` (file, row, Parquet row group) with the adapter's message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mash_kg.errors import InputError

PARQUET = (".parquet", ".pq")


def is_parquet(path: Path) -> bool:
    return Path(path).suffix.lower() in PARQUET


def csv_separator(path: Path) -> str:
    """As `sites.read_table`: OMOP/Athena files are often tab-separated whatever their suffix."""
    with Path(path).open(encoding="utf-8", errors="replace") as fh:
        head = fh.readline()
    return "\t" if "\t" in head and "," not in head else ","


def _missing(path: Path, columns: list[str], required: list[str]) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(
            path,
            f"missing column(s) {', '.join(missing)}",
            row=None if is_parquet(path) else 1,
            hint=f"expected columns: {', '.join(required)}",
        )


def _select(columns: dict[str, str], required: list[str], optional: list[str], q: str) -> str:
    """Trimmed strings, '' for a missing value or an absent optional column."""
    out = []
    for c in [*required, *optional]:
        if c in columns:
            out.append(f"coalesce(trim(CAST({q}{columns[c]}{q} AS STRING)), '') AS {c}")
        else:
            out.append(f"'' AS {c}")
    return ", ".join(out)


class DuckDBBackend:
    """DuckDB with a memory limit: what does not fit spills to `work` on disk."""

    name = "duckdb"
    day = (
        "date_diff('day', DATE '1970-01-01', CAST(try_strptime(left({x}, 10), '%Y-%m-%d') AS DATE))"
    )

    def __init__(
        self, work: Path | None, memory_limit: str = "1GB", threads: int | None = None
    ) -> None:
        import duckdb

        self.duckdb = duckdb
        self.con = duckdb.connect(str(Path(work) / "work.duckdb") if work else ":memory:")
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute(f"SET threads = {threads or os.cpu_count() or 1}")
        if work:
            self.con.execute(f"SET temp_directory = '{Path(work) / 'spill'}'")
        self.con.execute("SET preserve_insertion_order = false")

    def close(self) -> None:
        self.con.close()

    def _scan(self, path: Path) -> str:
        p = str(path).replace("'", "''")
        if is_parquet(path):
            return f"read_parquet('{p}')"
        sep = csv_separator(path).replace("\t", "\\t")
        names = ", ".join("'" + c.replace("'", "''") + "': 'VARCHAR'" for c in self._header(path))
        return (
            f"read_csv('{p}', header = true, delim = E'{sep}', columns = {{{names}}}, "
            "quote = '\"', escape = '\"', auto_detect = false, strict_mode = true)"
        )

    @staticmethod
    def _header(path: Path) -> list[str]:
        return [str(c) for c in pd.read_csv(path, nrows=0, sep=csv_separator(path)).columns]

    def columns(self, path: Path) -> dict[str, str]:
        if is_parquet(path):
            names = pq.ParquetFile(path).schema_arrow.names
        else:
            names = self._header(path)
        return {str(c).strip(): str(c) for c in names}

    def register_file(
        self, name: str, path: Path, required: list[str], optional: list[str] = ()
    ) -> list[str]:
        cols = self.columns(path)
        _missing(path, list(cols), required)
        select = _select(cols, required, list(optional), '"')
        self.con.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT {select} FROM {self._scan(path)}"
        )
        return list(cols)

    def register_chunk(
        self, name: str, df: pd.DataFrame, required: list[str], optional: list[str] = ()
    ) -> None:
        """A chunk of a file (with its `_row` numbers) as the same view a file would be."""
        cols = {str(c).strip(): str(c) for c in df.columns if c != "_row"}
        self.con.register(f"{name}_df", df)
        select = _select(cols, required, list(optional), '"')
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {select}, _row FROM {name}_df")

    def stage(self, name: str, sql: str) -> None:
        self.view(name, sql)  # reading the file twice is cheaper than storing it

    def register_frame(self, name: str, df: pd.DataFrame) -> None:
        self.con.register(f"{name}_df", df)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_df")
        self.con.unregister(f"{name}_df")

    def view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def materialize(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")

    def distinct(self, name: str, sql: str) -> None:
        """The distinct rows of `sql` as a table: stored first, then deduplicated, so the
        input scan and joins do not hold memory while the deduplication spills."""
        self.materialize(f"{name}_all", sql)
        self.materialize(name, f"SELECT DISTINCT * FROM {name}_all")
        self.con.execute(f"DROP TABLE {name}_all")

    def fetch(self, sql: str) -> pa.Table:
        # streamed in batches: DuckDB never holds the whole result inside its memory limit
        return self.con.sql(sql).to_arrow_reader(1_000_000).read_all()


class SparkBackend:
    """Spark SQL on the session of `master` (local[N], a cluster URL, or spark-submit's)."""

    name = "spark"
    day = "datediff(to_date(substr({x}, 1, 10), 'yyyy-M-d'), DATE '1970-01-01')"

    def __init__(self, master: str | None = None, shuffle_partitions: int | None = None):
        from pyspark import StorageLevel
        from pyspark.sql import SparkSession

        self.level = StorageLevel.MEMORY_AND_DISK
        builder = SparkSession.builder.appName("mash-kg site summarize")
        # under spark-submit the JVM started this Python and its session knows the master
        submitted = "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_MASTER" in os.environ
        if not master and not submitted:
            master = "local[*]"
        if master:
            builder = builder.master(master)
        local = (master or "").startswith("local")
        builder = builder.config("spark.ui.enabled", "false").config(
            "spark.ui.showConsoleProgress", "false"
        )
        self.spark = builder.getOrCreate()
        self.spark.sparkContext.setLogLevel("ERROR")
        if shuffle_partitions is None and local:  # 200 tiny tasks cost more than they share
            shuffle_partitions = 2 * self.spark.sparkContext.defaultParallelism
        # plan semantics: a date that does not parse is NULL (a bad row), not an exception
        self.spark.conf.set("spark.sql.ansi.enabled", "false")
        if shuffle_partitions:
            self.spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
        self._cached: list = []

    def shuffle_bytes(self) -> int | None:
        """Bytes shuffled so far by this session (Spark's status store; None if unreadable)."""
        try:
            store = self.spark.sparkContext._jsc.sc().statusStore()
            defaults = [getattr(store, f"stageList$default${i}")() for i in range(2, 6)]
            stages = store.stageList(None, *defaults)
            return sum(stages.apply(i).shuffleWriteBytes() for i in range(stages.size()))
        except Exception:  # a private API: figures only, never worth failing a run
            return None

    def close(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached.clear()

    def _read(self, path: Path):
        reader = self.spark.read
        if is_parquet(path):
            return reader.parquet(str(path))
        return reader.options(
            header=True,
            sep=csv_separator(path),
            mode="FAILFAST",
            quote='"',
            escape='"',
            encoding="UTF-8",
        ).csv(str(path))

    def register_file(
        self, name: str, path: Path, required: list[str], optional: list[str] = ()
    ) -> list[str]:
        df = self._read(path)
        cols = {str(c).strip(): str(c) for c in df.columns}
        _missing(path, list(cols), required)
        df.createOrReplaceTempView(f"{name}_raw")
        select = _select(cols, required, list(optional), "`")
        self.spark.sql(f"SELECT {select} FROM {name}_raw").createOrReplaceTempView(name)
        return list(cols)

    def register_frame(self, name: str, df: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(df, preserve_index=False)
        self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def view(self, name: str, sql: str) -> None:
        self.spark.sql(sql).createOrReplaceTempView(name)

    def stage(self, name: str, sql: str) -> None:
        self.materialize(name, sql)  # validated once, counted from memory or local disk

    def materialize(self, name: str, sql: str) -> None:
        df = self.spark.sql(sql).persist(self.level)
        self._cached.append(df)
        df.createOrReplaceTempView(name)

    def distinct(self, name: str, sql: str) -> None:
        self.materialize(name, f"SELECT DISTINCT * FROM ({sql}) t")

    def fetch(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()


def chunks(path: Path, size: int = 200_000) -> Iterator[tuple[pd.DataFrame, int, int | None]]:
    """(strings, number of the chunk's first row, Parquet row group) for a whole file; a CSV
    that does not parse raises the error `sites.read_table` would."""
    path = Path(path)
    if is_parquet(path):
        pf = pq.ParquetFile(path)
        row = 1
        for g in range(pf.num_row_groups):
            for batch in pf.iter_batches(batch_size=size, row_groups=[g]):
                yield batch.to_pandas(), row, g
                row += batch.num_rows
        return
    try:
        reader = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            sep=csv_separator(path),
            encoding="utf-8",
            chunksize=size,
        )
        row = 2
        for df in reader:
            yield df, row, None
            row += len(df)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason})") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise InputError(path, f"unreadable table ({str(exc).splitlines()[0]})") from None
