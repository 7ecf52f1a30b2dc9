"""Differential SQL testing: seeded random tables and queries, run on Loam and on DuckDB.

Each query is generated as a pair of texts, Loam's and DuckDB's (they differ only where the
dialects spell the same thing differently, e.g. integer division `/` and `//`), and run on:

- Loam through a real `loam serve`;
- Loam again through a second server started with LOAM_SQL_REFERENCE=1, which turns off every
  fast path (mask kernels, typed aggregation, top-k, typed vector loops) so the same query goes
  through the general row evaluator: SQLancer's non-optimizing reference engine (NoREC);
- DuckDB over the same Arrow tables.

Results are compared as multisets of rows (as lists when ORDER BY fixes the order), floats with a
relative tolerance, NaN equal to NaN. Both engines refusing a query is agreement; one refusing is a
disagreement. Ternary logic partitioning (TLP) queries check, on Loam alone, that a predicate
splits the rows into p, NOT p and p IS NULL.

    python sqlfuzz.py --seconds 60            # random seeds until time is up; prints disagreements
    python sqlfuzz.py --seed 7 --queries 500  # one fixed batch
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.ipc as ipc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LOAM = os.environ.get("LOAM_BIN") or os.path.join(ROOT, ".build", "debug", "loam")

INT_EDGES = [0, 1, -1, 2, -2, 7, -7, 100, -100, 2**31 - 1, -2**31, 2**62, -2**62, 2**63 - 1, -2**63 + 1, 4611686018427387904]
TEXTS = ["", "a", "A", "abc", "ABC", "a_b", "a%b", "hello world", " padded ", "é", "naïve", "日本語", "Grüne", "😀 emoji", "x,y,z", "50%", "it's", "NULL"]


# ---------------------------------------------------------------------------------------------
# Tables


def make_tables(seed, rows=60):
    """Two tables with every awkward value: near-limit and negative integers, uint64 hashes, NaN,
    ±inf and -0.0, NULLs in every column, unicode and empty strings, dates, timestamps, lists."""
    r = random.Random(seed)

    def maybe(v, p=0.15):
        return None if r.random() < p else v

    def table(n, offset):
        ids = list(range(offset, offset + n))
        k = [maybe(r.randint(0, 5)) for _ in ids]
        i = [maybe(r.choice(INT_EDGES) if r.random() < 0.3 else r.randint(-1000, 1000)) for _ in ids]
        u = [maybe(r.choice([0, 1, 2**63, 2**64 - 1, 2**63 - 1]) if r.random() < 0.2 else r.getrandbits(64)) for _ in ids]
        f = [maybe(r.choice([float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1e300, -1e-300, 0.5, 2.5, -2.5])
                   if r.random() < 0.25 else round(r.uniform(-1000, 1000), r.choice([0, 1, 3]))) for _ in ids]
        s = [maybe(r.choice(TEXTS) if r.random() < 0.7 else "".join(r.choice("abcXYZ_%é ") for _ in range(r.randint(0, 6)))) for _ in ids]
        b = [maybe(r.random() < 0.5) for _ in ids]
        d = [maybe(date(2000, 1, 1) + timedelta(days=r.randint(-20000, 20000))) for _ in ids]
        ts = [maybe(datetime(2020, 1, 1) + timedelta(seconds=r.randint(-10**9, 10**9), microseconds=r.randint(0, 999999))) for _ in ids]
        lst = [maybe([maybe(r.randint(-5, 5), 0.1) for _ in range(r.randint(0, 4))]) for _ in ids]
        return pa.table({
            "id": pa.array(ids, pa.int64()), "k": pa.array(k, pa.int64()), "i": pa.array(i, pa.int64()),
            "u": pa.array(u, pa.uint64()), "f": pa.array(f, pa.float64()), "s": pa.array(s, pa.string()),
            "b": pa.array(b, pa.bool_()), "d": pa.array(d, pa.date32()), "ts": pa.array(ts, pa.timestamp("us")),
            "l": pa.array(lst, pa.list_(pa.int64())),
        })

    return {"t1": table(rows, 0), "t2": table(rows // 2 + 7, rows // 3)}


# ---------------------------------------------------------------------------------------------
# Expressions: each is a pair (loam text, duckdb text).


class E:
    __slots__ = ("loam", "duck")

    def __init__(self, loam, duck=None):
        self.loam, self.duck = loam, loam if duck is None else duck

    @staticmethod
    def join(template, *parts):
        """`template` with {0}, {1}, … filled by each part's own dialect."""
        return E(template.format(*[p.loam for p in parts]), template.format(*[p.duck for p in parts]))


COLUMNS = {"int": ["id", "k", "i"], "uint": ["u"], "float": ["f"], "text": ["s"], "bool": ["b"], "date": ["d"], "ts": ["ts"], "list": ["l"]}


class Generator:
    def __init__(self, seed, prefix=""):
        self.r = random.Random(seed)
        self.prefix = prefix  # "t1." inside joins

    def col(self, kind):
        return E(self.prefix + self.r.choice(COLUMNS[kind]))

    def int_literal(self):
        v = self.r.choice(INT_EDGES) if self.r.random() < 0.2 else self.r.randint(-10, 10)
        # DuckDB types a small literal as INTEGER (32-bit arithmetic); BIGINT makes both engines do the same 64-bit work.
        return E(str(v), f"({v})::BIGINT")

    def expr(self, kind, depth=0):
        leaf = depth >= 3 or self.r.random() < 0.3
        return getattr(self, "gen_" + kind)(depth, leaf)

    def gen_int(self, depth, leaf):
        r = self.r
        if leaf:
            return self.col("int") if r.random() < 0.7 else self.int_literal()
        a, b = self.expr("int", depth + 1), self.expr("int", depth + 1)
        c = r.randint(0, 13)
        if c <= 2:
            return E.join("({0} " + "+-*"[c] + " {1})", a, b)
        if c == 3:
            return E(f"({a.loam} / {b.loam})", f"({a.duck} // {b.duck})")
        if c == 4:
            return E.join("({0} % {1})", a, b)
        if c == 5:
            return E.join("abs({0})", a)
        if c == 6:
            return E.join("CASE WHEN {0} THEN {1} ELSE {2} END", self.expr("bool", depth + 1), a, b)
        if c == 7:
            return E.join("coalesce({0}, {1})", a, b)
        if c == 8:
            return E.join(r.choice(["length({0})", "array_length(l) + length({0})", "coalesce(l[2], length({0}))"]), self.expr("text", depth + 1))
        if c == 9:
            return E.join("(-({0}))", a)
        if c == 10:
            return E.join("CAST({0} AS BIGINT)", self.expr("float", depth + 1))
        if c == 11:
            return E.join("date_part('" + r.choice(["year", "month", "day", "dow", "doy"]) + "', {0})", self.expr("date", depth + 1))
        if c == 12:
            return E.join("nullif({0}, {1})", a, b)
        return E.join(r.choice(["greatest", "least"]) + "({0}, {1})", a, b)

    def gen_uint(self, depth, leaf):
        r = self.r
        if leaf or r.random() < 0.5:
            return self.col("uint")
        m = r.choice([2, 3, 10, 100, 1000])
        return E(f"({self.col('uint').loam} % {m})", f"({self.col('uint').duck} % {m}::UBIGINT)")

    def gen_float(self, depth, leaf):
        r = self.r
        if leaf:
            if r.random() < 0.7:
                return self.col("float")
            v = r.choice(["0.5", "-2.5", "1.0e10", "3.25", "0.1"])
            return E(v, f"({v})::DOUBLE")
        a, b = self.expr("float", depth + 1), self.expr("float", depth + 1)
        c = r.randint(0, 9)
        if c <= 2:
            return E.join("({0} " + "+-*"[c] + " {1})", a, b)
        if c == 3:
            return E.join("({0} + {1})", a, self.expr("int", depth + 1))
        if c == 4:
            return E.join("CAST({0} AS DOUBLE)", self.expr("int", depth + 1))
        if c == 5:
            return E.join("abs({0})", a)
        if c == 6:
            return E.join("round({0}, " + str(r.randint(0, 3)) + ")", a)
        if c == 7:
            return E.join("CASE WHEN {0} THEN {1} END", self.expr("bool", depth + 1), a)
        if c == 8:
            return E.join(r.choice(["floor({0})", "ceil({0})", "sqrt(abs({0}))", "ln(abs({0}) + 1)", "exp({0} / 1000)"]), a)
        return E.join("coalesce({0}, {1})", a, b)

    def text_literal(self):
        v = self.r.choice(TEXTS)
        return E("'" + v.replace("'", "''") + "'")

    def gen_text(self, depth, leaf):
        r = self.r
        if leaf:
            return self.col("text") if r.random() < 0.7 else self.text_literal()
        a = self.expr("text", depth + 1)
        c = r.randint(0, 9)
        if c == 0:
            return E.join("lower({0})", a)
        if c == 1:
            return E.join("upper({0})", a)
        if c == 2:
            return E.join("({0} || {1})", a, self.expr("text", depth + 1))
        if c == 3:
            return E.join("substr({0}, {1}, {2})", a, E(str(r.randint(-3, 4))), E(str(r.randint(0, 4))))
        if c == 4:
            return E.join("replace({0}, {1}, {2})", a, E(r.choice(["'a'", "'é'", "' '"])), E(r.choice(["'x'", "''", "'ab'"])))
        if c == 5:
            return E.join("trim({0})", a)
        if c == 6:
            return E.join("CAST({0} AS VARCHAR)", self.expr("int", depth + 1))
        if c == 7:
            return E.join("coalesce({0}, {1})", a, self.expr("text", depth + 1))
        if c == 8:
            return E.join(r.choice(["split_part({0}, ',', " + str(r.randint(1, 3)) + ")", "concat({0}, k, '-')", "md5({0})",
                                    "CASE k WHEN 1 THEN {0} WHEN 2 THEN 'two' END"]), a)
        return E.join("CASE WHEN {0} THEN {1} ELSE {2} END", self.expr("bool", depth + 1), a, self.expr("text", depth + 1))

    def gen_date(self, depth, leaf):
        if leaf or self.r.random() < 0.7:
            return self.col("date")
        day = date(2000, 1, 1) + timedelta(days=self.r.randint(-20000, 20000))
        return E(f"CAST('{day.isoformat()}' AS DATE)")

    def gen_bool(self, depth, leaf):
        r = self.r
        if leaf:
            return self.col("bool") if r.random() < 0.8 else E(r.choice(["TRUE", "FALSE"]))
        c = r.randint(0, 12)
        if c <= 3:
            kind = r.choice(["int", "int", "float", "text", "date", "uint"])
            op = r.choice(["=", "<>", "<", "<=", ">", ">="])
            return E.join("({0} " + op + " {1})", self.expr(kind, depth + 1), self.expr(kind, depth + 1))
        if c == 4:
            return E.join("({0} AND {1})", self.expr("bool", depth + 1), self.expr("bool", depth + 1))
        if c == 5:
            return E.join("({0} OR {1})", self.expr("bool", depth + 1), self.expr("bool", depth + 1))
        if c == 6:
            return E.join("(NOT {0})", self.expr("bool", depth + 1))
        if c == 7:
            kind = r.choice(["int", "float", "text", "bool", "date", "list"])
            return E.join("({0} IS " + r.choice(["", "NOT "]) + "NULL)", self.expr(kind, depth + 1) if kind != "list" else self.col("list"))
        if c == 8:
            kind = r.choice(["int", "float"])
            return E.join("({0} " + r.choice(["", "NOT "]) + "BETWEEN {1} AND {2})", *[self.expr(kind, depth + 1) for _ in range(3)])
        if c == 9:
            items = [self.int_literal() for _ in range(r.randint(1, 4))]
            if r.random() < 0.2:
                items.append(E("NULL"))
            return E.join("({0} " + r.choice(["", "NOT "]) + "IN (" + ", ".join("{%d}" % (i + 1) for i in range(len(items))) + "))",
                          self.expr("int", depth + 1), *items)
        if c == 10:
            pattern = r.choice(["'%a%'", "'a%'", "'%'", "'_'", "'%é%'", "'a\\_b'", "'%5%'", "''", "'_b%'"])
            if "\\" in pattern:
                pattern = "'%b'"
            return E.join("({0} " + r.choice(["", "NOT "]) + r.choice(["LIKE", "ILIKE"]) + " " + pattern + ")", self.expr("text", depth + 1))
        if c == 11:
            if r.random() < 0.5:
                return E.join("regexp_matches({0}, '" + r.choice(["a.", "^[a-z]+$", "[0-9]", "é|日"]) + "')", self.expr("text", depth + 1))
            return E.join("coalesce({0}, {1})", self.expr("bool", depth + 1), self.expr("bool", depth + 1))
        return E.join("({0} = {1})", self.col("bool"), self.expr("bool", depth + 1))

    # -----------------------------------------------------------------------------------------
    # Queries: (loam sql, duckdb sql, ordered?)

    def scalar(self):
        return self.expr(self.r.choice(["int", "int", "float", "text", "bool", "date", "uint"]))

    def aggregate(self):
        r = self.r
        c = r.randint(0, 11)
        if c == 0:
            return E("count(*)")
        kind = r.choice(["int", "float", "uint"]) if c in (2, 3, 7, 8) else r.choice(["int", "float", "text", "date", "bool"])
        x = self.expr(kind, 1)
        if c == 1:
            return E.join("count({0})", x)
        if c == 2:
            return E.join("sum({0})", x) if kind != "uint" else E.join("sum({0})", self.expr("int", 1))
        if c == 3:
            return E.join("avg({0})", x)
        if c == 4:
            return E.join("min({0})", x)
        if c == 5:
            return E.join("max({0})", x)
        if c == 6:
            return E.join("count(DISTINCT {0})", x)
        if c == 7:
            return E.join("sum({0})", self.expr("float", 1))
        if c == 8:
            return E.join(r.choice(["stddev_samp", "var_samp"]) + "({0})", self.expr("float", 1))
        if c == 9:
            return E.join("count({0})", E(str(r.randint(0, 9))))  # an aggregate naming no column
        if c == 10:
            return E.join(r.choice(["bool_and", "bool_or"]) + "({0})", self.expr("bool", 1))
        return E.join("sum({0})", E(str(r.randint(-3, 3)), None))

    def query(self):
        r = self.r
        shape = r.choice(["project", "project", "filter_order", "aggregate", "group", "group", "distinct", "join", "join", "subquery",
                          "union", "cte", "window", "window", "setop", "scalar_subquery", "comma_join", "group_ordinal", "filter_agg",
                          "no_from", "sample", "having"])
        return getattr(self, "q_" + shape)()

    def order_key(self):
        """An ORDER BY item with the null order spelled out (PostgreSQL and DuckDB differ on the default)."""
        r = self.r
        return r.choice(["k", "i", "f", "s", "d", "(k % 3)", "lower(s)"]) + r.choice(["", " DESC"]) + r.choice([" NULLS FIRST", " NULLS LAST"])

    def q_window(self):
        r = self.r
        partition = r.choice(["", "PARTITION BY k ", "PARTITION BY (i > 0) ", "PARTITION BY b, k "])
        order = "ORDER BY " + self.order_key() + ", id"  # id makes the order total: every engine sees the same rows in a frame
        function = r.choice(["row_number()", "rank()", "dense_rank()", "count(*)", "count(s)", "sum(k)", "sum(f)", "avg(i)", "min(s)", "max(d)",
                             "lag(s)", "lead(i, 2)", "lag(k, 1, -1)", "first_value(s)", "last_value(f)", "ntile(3)", "cume_dist()", "percent_rank()",
                             "nth_value(k, 2)"])
        frame = ""
        if r.random() < 0.3 and function.split("(")[0] in ("count", "sum", "avg", "min", "max", "first_value", "last_value", "nth_value"):
            frame = " " + r.choice(["ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING", "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
                                    "ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING", "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW",
                                    "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"])
        if r.random() < 0.2 and not frame:  # the default frame with ORDER BY: up to the current row's peers (ties included)
            order = "ORDER BY " + self.order_key()
            if function.split("(")[0] not in ("count", "sum", "avg", "min", "max", "rank", "dense_rank", "cume_dist", "percent_rank"):
                order += ", id"
        over = f"{function} OVER ({partition}{order}{frame})"
        t = self.table()
        if r.random() < 0.3:
            numeric = not any(c in function for c in ("(s)", "(d)", "(s,"))  # text and dates compare only with their own kind
            q = f"SELECT id, k FROM {t} QUALIFY {over} " + r.choice(["= 1", "<= 2", "IS NULL", "> 0"] if numeric else ["IS NULL", "IS NOT NULL"])
            return E(q), False
        return E.join(f"SELECT id, {over} AS w FROM {t}{{0}}", self.where(0.3)), False

    def q_setop(self):
        r = self.r
        op = r.choice(["UNION", "UNION ALL", "EXCEPT", "INTERSECT"])
        a, b = self.expr("int", 1), self.expr("int", 1)
        third = ""
        if r.random() < 0.3:
            third = " " + r.choice(["UNION", "INTERSECT", "EXCEPT"]) + " SELECT k FROM t2"
        return E.join("SELECT {0} AS v FROM t1 " + op + " SELECT {1} AS v FROM t2" + third, a, b), False

    def q_scalar_subquery(self):
        r = self.r
        sub = r.choice(["(SELECT max(k) FROM t2)", "(SELECT min(i) FROM t2 WHERE k = 2)", "(SELECT count(*) FROM t2)",
                        "(SELECT s FROM t2 ORDER BY id LIMIT 1)", "(SELECT k FROM t2 WHERE id = -5)"])
        if r.random() < 0.35:  # correlated: once per distinct outer value
            inner = r.choice(["EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.k AND t2.i > t1.i)", "(SELECT max(t2.s) FROM t2 WHERE t2.k = t1.k)",
                              "(SELECT count(*) FROM t2 WHERE t2.k = t1.k)", "NOT EXISTS (SELECT 1 FROM t2 WHERE t2.id = t1.id)",
                              "(SELECT sum(t2.f) FROM t2 WHERE t2.b = t1.b AND t2.k <> t1.k)"])
            return E(f"SELECT id, {inner} FROM t1" + r.choice(["", f" WHERE {inner} IS NOT NULL"])), False
        if r.random() < 0.4:
            exists = r.choice(["EXISTS (SELECT 1 FROM t2 WHERE k = 3)", "NOT EXISTS (SELECT 1 FROM t2 WHERE id > 1000)",
                               "EXISTS (SELECT 1 FROM t2 WHERE k > 100)"])
            return E(f"SELECT id, {exists} FROM t1 WHERE k < {sub} OR {exists}"), False
        return E(f"SELECT id, k - {sub} FROM t1 WHERE k <= {sub}"), False

    def q_comma_join(self):
        r = self.r
        where = r.choice(["t1.k = t2.k", "t1.id = t2.id AND t1.k > 1", "t1.k = t2.k AND t1.s < t2.s", "t1.id = t2.k"])
        return E(f"SELECT t1.id, t2.id, t2.s FROM t1, t2 WHERE {where}"), False

    def q_group_ordinal(self):
        r = self.r
        key = self.expr(r.choice(["int", "text", "bool"]), 1)
        agg = self.aggregate()
        if r.random() < 0.5:
            return E.join("SELECT {0} AS g, {1} FROM " + self.table() + " GROUP BY 1", key, agg), False
        return E.join("SELECT {0} AS g, {1} FROM " + self.table() + " GROUP BY g", key, agg), False

    def q_filter_agg(self):
        p = self.expr("bool", 1)
        agg = self.r.choice(["count(*)", "sum(k)", "max(s)", "avg(f)", "count(i)"])
        return E.join(f"SELECT k, {agg} FILTER (WHERE {{0}}) FROM " + self.table() + " GROUP BY k", p), False

    def q_no_from(self):
        items = [self.r.choice([self.int_literal(), self.text_literal(), E("md5('x')"), E("mod(-7, 3)"), E("sha256('')"), E("NULL"),
                                E("CASE WHEN 1 < 2 THEN 'y' END")]) for _ in range(self.r.randint(1, 3))]
        return E.join("SELECT " + ", ".join("{%d}" % i for i in range(len(items))), *items), False

    def q_sample(self):
        """Sampling invariants: a sample of n rows has min(n, count) rows, and only rows of the table."""
        n = self.r.choice([0, 1, 5, 20, 1000])
        return E(f"SELECT count(*) FROM (SELECT * FROM t1 USING SAMPLE {n} ROWS) AS s WHERE id IN (SELECT id FROM t1)",
                 f"SELECT least(count(*), {n}) FROM t1"), False

    def q_having(self):
        agg = self.aggregate()
        cond = self.r.choice(["count(*) > 1", "sum(k) > 3", "max(s) > 'a'", "min(i) < 0", "avg(f) > 0"])
        return E.join("SELECT k, {0} FROM " + self.table() + " GROUP BY k HAVING " + cond, agg), False

    def where(self, p=0.6):
        return E.join(" WHERE {0}", self.expr("bool")) if self.r.random() < p else E("")

    def table(self):
        return self.r.choice(["t1", "t2"])

    def q_project(self):
        items = [self.scalar() for _ in range(self.r.randint(1, 3))]
        e = E.join("SELECT " + ", ".join("{%d}" % i for i in range(len(items))) + " FROM " + self.table(), *items)
        return E.join("{0}{1}", e, self.where()), False

    def q_filter_order(self):
        items = [self.scalar() for _ in range(self.r.randint(1, 2))]
        limit = self.r.choice(["", " LIMIT 5", " LIMIT 10 OFFSET 3", " LIMIT 0", " OFFSET 50"])
        desc = self.r.choice(["", " DESC"])
        e = E.join("SELECT id, " + ", ".join("{%d}" % i for i in range(len(items))) + " FROM " + self.table(), *items)
        return E.join("{0}{1} ORDER BY id" + desc + limit, e, self.where()), True

    def q_aggregate(self):
        aggs = [self.aggregate() for _ in range(self.r.randint(1, 3))]
        e = E.join("SELECT " + ", ".join("{%d}" % i for i in range(len(aggs))) + " FROM " + self.table(), *aggs)
        return E.join("{0}{1}", e, self.where()), False

    def q_group(self):
        r = self.r
        key = r.choice([E("k"), E("b"), E("s"), E("d"), E("(k % 2)"), E("lower(s)"), E("(i > 0)")])
        aggs = [self.aggregate() for _ in range(r.randint(1, 3))]
        having = E.join(" HAVING {0}", E.join("count(*) > {0}", E(str(r.randint(0, 3))))) if r.random() < 0.3 else E("")
        e = E.join("SELECT {0}, " + ", ".join("{%d}" % (i + 1) for i in range(len(aggs))) + " FROM " + self.table(), key, *aggs)
        return E.join("{0}{1} GROUP BY {2}{3}", e, self.where(0.4), key, having), False

    def q_distinct(self):
        x = self.expr(self.r.choice(["int", "text", "bool", "date"]))
        return E.join("SELECT DISTINCT {0} FROM " + self.table() + "{1}", x, self.where(0.4)), False

    def q_join(self):
        r = self.r
        kind = r.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "INNER JOIN", "LEFT OUTER JOIN"])
        on = r.choice(["t1.k = t2.k", "t1.id = t2.id", "t1.k = t2.k AND t1.id < t2.id", "t1.s = t2.s"])
        g = Generator(r.random(), "t1.")
        g2 = Generator(r.random(), "t2.")
        items = [g.scalar(), g2.scalar()]
        where = E.join(" WHERE {0}", g.expr("bool")) if r.random() < 0.5 else E("")
        return E.join("SELECT t1.id, t2.id, {0}, {1} FROM t1 " + kind + " t2 ON " + on + "{2}", items[0], items[1], where), False

    def q_subquery(self):
        r = self.r
        if r.random() < 0.5:
            return E.join("SELECT id, s FROM t1 WHERE k " + r.choice(["", "NOT "]) + "IN (SELECT k FROM t2{0})", self.where(0.7)), False
        x = self.expr("int")
        return E.join("SELECT count(*), sum(v) FROM (SELECT {0} AS v FROM t1{1}) AS sub", x, self.where(0.5)), False

    def q_union(self):
        a, b = self.expr("int"), self.expr("int")
        return E.join("SELECT {0} AS v FROM t1 UNION ALL SELECT {1} AS v FROM t2", a, b), False

    def q_cte(self):
        x = self.expr("int")
        return E.join("WITH c AS (SELECT k, {0} AS v FROM t1{1}) SELECT k, count(*), min(v), max(v) FROM c GROUP BY k", x, self.where(0.5)), False

    def tlp(self):
        """(whole, partitioned): count(*) and the three partitions of a predicate, on Loam alone."""
        p = self.expr("bool")
        t = self.table()
        agg = self.r.choice(["count(*)", "count(i)", "sum(k)", "min(i)", "max(s)"])
        parts = [f"SELECT {agg} AS a FROM {t} WHERE {q}" for q in (p.loam, f"NOT ({p.loam})", f"({p.loam}) IS NULL")]
        return f"SELECT {agg} AS a FROM {t}", parts, agg.split("(")[0]


# ---------------------------------------------------------------------------------------------
# Engines


# The reference server's memory_limit: so small that every sort, DISTINCT, GROUP BY and equality join of
# these tables spills to disk, so the spilling operators are checked against DuckDB and the fast path too.
REFERENCE_MEMORY = "4KB"
OUT_OF_MEMORY = "memory_limit"


class LoamServer:
    def __init__(self, repo, reference=False):
        env = dict(os.environ)
        flags = []
        if reference:
            env["LOAM_SQL_REFERENCE"] = "1"
            flags = ["--memory-limit", REFERENCE_MEMORY]
        self.process = subprocess.Popen([LOAM, "serve", "--repo", repo, "--port", "0", "--anonymous", *flags], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("Serving "):
            raise RuntimeError(line + self.process.stderr.read())
        self.url = "http://" + line.split()[1]

    def query(self, sql):
        """(rows, None) or (None, error message)."""
        req = urllib.request.Request(self.url + "/api/v1/query", data=json.dumps({"sql": sql}).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                table = ipc.open_stream(resp.read()).read_all()
                return table, None
        except urllib.error.HTTPError as e:
            if e.code == 507:  # what cannot spill (window functions, nested-loop joins) stops at the reference's tiny budget
                return None, OUT_OF_MEMORY
            if e.code >= 500:
                raise RuntimeError(f"server error {e.code} for {sql}: {e.read()[:300]}")
            body = json.loads(e.read())
            error = body.get("error", body)
            return None, error.get("message", str(error)) if isinstance(error, dict) else str(error)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Engines:
    """Loam (optimized and reference servers) and DuckDB over the same tables."""

    def __init__(self, tables, workdir):
        import duckdb
        self.repo = os.path.join(workdir, "repo")
        subprocess.run([LOAM, "init", self.repo], check=True, capture_output=True)
        self.duck = duckdb.connect()
        for name, table in tables.items():
            path = os.path.join(workdir, name + ".arrow")
            with ipc.new_file(path, table.schema) as w:
                w.write_table(table, max_chunksize=max(1, table.num_rows // 3))
            subprocess.run([LOAM, "import", path, "-d", name, "--fragment-rows", str(max(1, table.num_rows // 3)), "-q", "--repo", self.repo],
                           check=True, capture_output=True)
            self.duck.register(name + "_arrow", table)
            self.duck.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        # A deletion in each table: the deletion vectors are part of what is tested.
        for name in tables:
            subprocess.run([LOAM, "delete", name, "--where", "id % 7 = 3", "--repo", self.repo], check=True, capture_output=True)
            self.duck.execute(f"DELETE FROM {name} WHERE id % 7 = 3")
        self.fast = LoamServer(self.repo)
        self.reference = LoamServer(self.repo, reference=True)

    def duckdb(self, sql):
        try:
            return self.duck.sql(sql).to_arrow_table(), None
        except Exception as e:  # noqa: BLE001 - any DuckDB refusal is an answer to compare
            if "INTERNAL" in str(e):
                raise
            return None, str(e).split("\n")[0]

    def close(self):
        self.fast.close()
        self.reference.close()
        self.duck.close()


# ---------------------------------------------------------------------------------------------
# Comparison


def normalize(v):
    if isinstance(v, float):
        if math.isnan(v):
            return ("nan",)
        return 0.0 if v == 0 else v
    if isinstance(v, bool):
        return v
    if isinstance(v, list):
        return tuple(normalize(x) for x in v)
    if isinstance(v, datetime):
        return v.replace(tzinfo=None).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def rows(table):
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [tuple(normalize(c[r]) for c in columns) for r in range(table.num_rows)]


def sort_key(row):
    def key(v):
        if v is None:
            return (0, "")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (1, float("%.6g" % v) if isinstance(v, float) and math.isfinite(v) else v)
        return (2, repr(v))
    return [key(v) for v in row]


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
            return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
        return False
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


def same_rows(x, y, ordered):
    if len(x) != len(y):
        return False
    if not ordered:
        x, y = sorted(x, key=sort_key), sorted(y, key=sort_key)
    return all(len(a) == len(b) and all(close(p, q) for p, q in zip(a, b)) for a, b in zip(x, y))


def describe(answer):
    table, error = answer
    if error is not None:
        return "error: " + error[:300]
    shown = rows(table)
    return f"{len(shown)} rows: {shown[:8]}"


class Report:
    def __init__(self):
        self.queries = 0
        self.refused_by_both = 0
        self.refusals = []  # (sql, loam's message, duckdb's message): both engines refused
        self.refused_by_loam = 0
        self.refused_by_duckdb = 0
        self.reference_out_of_memory = 0  # queries the reference could not run within REFERENCE_MEMORY (not compared to it)
        self.disagreements = []

    def add(self, kind, sql, answers):
        shown = {k: describe(v) for k, v in answers.items()}
        tables = [(k, v[0]) for k, v in answers.items() if v[0] is not None]
        if len(tables) >= 2:  # the rows each answer has that the first does not match
            base = sorted(rows(tables[0][1]), key=sort_key)
            for name, table in tables[1:]:
                other = sorted(rows(table), key=sort_key)
                only = [r for r in other if not any(same_rows([r], [b], True) for b in base)]
                missing = [r for r in base if not any(same_rows([r], [o], True) for o in other)]
                if only or missing:
                    shown[name] += f"\n     only in {name}: {only[:5]}\n     only in {tables[0][0]}: {missing[:5]}"
        self.disagreements.append({"kind": kind, "sql": sql, "answers": shown})


DATA_ERRORS = ("overflow", "outside int64", "division by zero", "cannot cast", "out of range", "Conversion Error", "Out of Range")


def is_data_error(message):
    """An error a row's values cause (not the statement): engines may evaluate in different orders and
    short-circuit differently, so one failing where the other answers is not a disagreement."""
    return any(word.lower() in message.lower() for word in DATA_ERRORS)


def check_differential(engines, report, loam_sql, duck_sql, ordered):
    report.queries += 1
    fast = engines.fast.query(loam_sql)
    reference = engines.reference.query(loam_sql)
    duck = engines.duckdb(duck_sql)
    answers = {"loam": fast, "loam reference": reference, "duckdb": duck}
    if reference[1] == OUT_OF_MEMORY:
        report.reference_out_of_memory += 1
        reference = fast
    if (fast[1] is None) != (reference[1] is None):
        if not is_data_error(fast[1] or reference[1]):  # typed loops evaluate both sides of AND/OR; rows short-circuit
            report.add("norec", loam_sql, answers)
        return
    if fast[1] is None and not same_rows(rows(fast[0]), rows(reference[0]), ordered):
        report.add("norec", loam_sql, answers)
        return
    if fast[1] is not None and duck[1] is not None:
        report.refused_by_both += 1
        report.refusals.append((loam_sql, fast[1].splitlines()[-1], duck[1]))
        return
    # PostgreSQL semantics where DuckDB differs: Loam refuses division by zero, DuckDB answers NULL.
    if fast[1] is not None and is_data_error(fast[1]):
        report.refused_by_loam += 1
        report.refusals.append((loam_sql, fast[1].splitlines()[-1], "answered by DuckDB"))
        return
    if duck[1] is not None and is_data_error(duck[1]):  # DuckDB evaluates both sides of AND; Loam stops at FALSE
        report.refused_by_duckdb += 1
        return
    if (fast[1] is None) != (duck[1] is None) or not same_rows(rows(fast[0]), rows(duck[0]), ordered):
        report.add("duckdb", loam_sql + "\n  duckdb: " + duck_sql, answers)


def check_tlp(engines, report, whole_sql, part_sqls, combine):
    report.queries += 1 + len(part_sqls)
    whole = engines.fast.query(whole_sql)
    parts = [engines.fast.query(q) for q in part_sqls]
    if whole[1] is not None or any(p[1] is not None for p in parts):
        # The predicate may fail on some row (overflow, division by zero, a cast) that the whole query never evaluates,
        # and a part may pass only because AND stopped before the failing operand.
        if whole[1] is not None or not any(p[1] is not None and is_data_error(p[1]) for p in parts):
            report.add("tlp", whole_sql + "\n  " + "\n  ".join(part_sqls), {"whole": whole, **{f"part {i}": p for i, p in enumerate(parts)}})
        else:
            report.refused_by_both += 1
        return
    values = [rows(p[0])[0][0] for p in parts]
    expected = rows(whole[0])[0][0]
    present = [v for v in values if v is not None]
    if combine in ("count", "sum"):
        got = sum(present) if present else (0 if combine == "count" else None)
    elif combine == "min":
        got = min(present) if present else None
    else:
        got = max(present, key=lambda v: v.encode() if isinstance(v, str) else v) if present else None
    if not close(got, expected):
        report.add("tlp", whole_sql + "\n  " + "\n  ".join(part_sqls), {"whole": whole, **{f"part {i}": p for i, p in enumerate(parts)}})


def run_batch(seed, queries, workdir, report):
    tables = make_tables(seed)
    engines = Engines(tables, workdir)
    try:
        g = Generator(seed)
        for n in range(queries):
            if n % 5 == 4:
                check_tlp(engines, report, *g.tlp())
            else:
                q, ordered = g.query()
                check_differential(engines, report, q.loam, q.duck, ordered)
    finally:
        engines.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=0, help="run batches with fresh seeds until this many seconds have passed")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--queries", type=int, default=400, help="queries per batch")
    parser.add_argument("--json", help="write the disagreements here")
    parser.add_argument("--show", help="run this one SQL text on both engines over the seed's tables and print the answers")
    args = parser.parse_args()
    if args.show:
        workdir = tempfile.mkdtemp(prefix="loam-sqlfuzz-")
        engines = Engines(make_tables(args.seed or 0), workdir)
        try:
            for name, answer in (("loam", engines.fast.query(args.show)), ("loam reference", engines.reference.query(args.show)),
                                 ("duckdb", engines.duckdb(args.show))):
                print(f"{name}: " + (answer[1] if answer[1] else "\n".join(map(str, rows(answer[0])))))
        finally:
            engines.close()
            shutil.rmtree(workdir, ignore_errors=True)
        return
    report = Report()
    start = time.time()
    seed = args.seed if args.seed is not None else int(start)
    batches = 0
    while True:
        workdir = tempfile.mkdtemp(prefix="loam-sqlfuzz-")
        try:
            run_batch(seed, args.queries, workdir, report)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        batches += 1
        seed += 1
        if time.time() - start >= args.seconds:
            break
    for d in report.disagreements:
        print(f"\n[{d['kind']}] {d['sql']}")
        for engine, answer in d["answers"].items():
            print(f"  {engine}: {answer}")
    print(f"\n{report.queries} queries in {batches} batch(es) ({time.time() - start:.0f} s), "
          f"{report.refused_by_both} refused by both, {report.refused_by_loam} + {report.refused_by_duckdb} refused by Loam + DuckDB alone on a row's values, "
          f"{report.reference_out_of_memory} past the reference's {REFERENCE_MEMORY} memory_limit, {len(report.disagreements)} disagreement(s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report.disagreements, f, indent=1)
    sys.exit(1 if report.disagreements else 0)


if __name__ == "__main__":
    main()
