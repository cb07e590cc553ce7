"""Is a runbook's SQL diagnostic plainly read-only? Decided on PostgreSQL's own tokens.

A ```` ```sql backend=pg ```` block runs on the ``g`` key with no confirmation and no
audit entry, in any console, read-only ones too. So it must not change anything, and
two layers see to it:

1. **The server** (``PostgresBackend.diagnose``): the statement runs in a transaction
   begun ``READ ONLY``, with a local ``statement_timeout`` and ``lock_timeout`` and
   ``standard_conforming_strings`` on. The server then refuses every write, including
   writes inside functions, ``nextval``, large objects and ``SELECT ... FOR UPDATE``,
   and cannot be talked out of it: read-write mode may not be set once a query ran.
2. **This module**: what a READ ONLY transaction still lets through. PostgreSQL does
   not count as a write what acts outside the transaction: signalling other sessions
   (``pg_terminate_backend``, ``pg_cancel_backend``), reloading or changing settings,
   WAL, backup and replication control, advisory locks, files and programs on the
   server, running SQL given as text (``query_to_xml``, ``ts_stat``, ``dblink``, which
   opens a connection of its own that our transaction does not bind), sleeping, and
   resetting statistics. A call of any such function is refused, wherever and however
   it is written.

Why a denylist of functions and not an allowlist: with the server refusing writes, what
is left to refuse is a closed set, the functions the PostgreSQL manual lists under
system administration (plus a few of the contrib modules that are often installed),
whereas a diagnostic may call any of hundreds of pure functions (``count``, ``age``,
``pg_size_pretty``, ``pg_blocking_pids``, ``jsonb_*``...) and an allowlist would break
the team's runbooks at every release. The families are matched by prefix
(``pg_advisory*``, ``pg_stat_reset*``, ``dblink*``...), so a variant the list did not
name is still caught. What neither layer sees is a function or view defined in the
watched database that itself does one of these things (a DBA's ``kill_idle()``): it
runs with what it contains; such tools belong in ``action`` blocks (SECURITY.md).

Why tokens and not patterns: the earlier check blanked quoted identifiers before it
looked for function names, so ``"pg_terminate_backend"(pid)`` ran. Here the statement
is cut into tokens as PostgreSQL's lexer cuts it (``scan.l``): unquoted identifiers
(folded to lower case), quoted identifiers (``""`` escapes), ``U&"..."`` identifiers
with their ``\\XXXX`` / ``\\+XXXXXX`` escapes and ``UESCAPE``, string constants (plain,
``E''`` with backslash escapes, ``U&''``, ``B''``, ``X''``, ``N''``), dollar quoting,
nested ``/* */`` comments and ``--`` comments (which end at ``\\n`` or ``\\r``), and
operators. Every identifier is compared by its value, whatever its spelling; a call
is an identifier followed by ``(`` (comments and spaces between do not matter), and a
schema-qualified one (``pg_catalog.pg_terminate_backend``) is judged by its last part.
Then, conservatively: one statement; it starts with SELECT, WITH, SHOW or EXPLAIN; no
write keyword anywhere (no data-modifying CTE, no SELECT INTO, no EXPLAIN ANALYZE,
which runs its statement, even spelled ``"analyze"``); no row locks; no psql
meta-command; nothing left unclosed. Anything the tokeniser cannot read is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- tokens -------------------------------------------------------------------------------

IDENT = "ident"
STRING = "string"
PARAM = "param"
NUMBER = "number"
OP = "op"
PUNCT = "punct"
BACKSLASH = "backslash"
OTHER = "other"

_SPACE = frozenset(" \t\n\r\f\v")
_DIGITS = frozenset("0123456789")
_OP_CHARS = frozenset("+-*/<>=~!@#%^&|`?")
_PUNCT = frozenset(",()[].;:")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")
_NUMBER = re.compile(r"(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9][0-9_]*)?")
_PARAM = re.compile(r"\$[0-9]+")


def _ident_start(c: str) -> bool:
    """A letter, ``_``, or any character beyond ASCII (the server's bytes 0x80-0xff)."""
    return not c.isascii() or c.isalpha() or c == "_"


def _ident_char(c: str) -> bool:
    return _ident_start(c) or c in _DIGITS or c == "$"


class NotReadOnly(ValueError):
    """A diagnostic refused before it was sent: the message says why, in one line."""


class SqlUnreadable(ValueError):
    """The text cannot be cut into tokens (something is never closed, a bad escape)."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    """As written (for a message)."""
    value: str = ""
    """An identifier's name as the server sees it: folded when unquoted, decoded when
    quoted; a string's content is not kept."""
    quoted: bool = False


def tokens(sql: str) -> list[Token]:
    """PostgreSQL's tokens of ``sql``, comments and white space dropped."""
    out: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in _SPACE:
            i += 1
        elif sql.startswith("--", i):
            i = _line_end(sql, i)
        elif sql.startswith("/*", i):
            i = _comment_end(sql, i)
        elif c in "uU" and sql.startswith("&'", i + 1):
            end = _quoted_end(sql, i + 2, "'", backslash=False)
            i = _after_uescape(sql, end)[0]
            out.append(Token(STRING, "U&''"))
        elif c in "uU" and sql.startswith('&"', i + 1):
            end = _quoted_end(sql, i + 2, '"', backslash=False)
            after, escape = _after_uescape(sql, end)
            body = sql[i + 3 : end - 1].replace('""', '"')
            name = _unicode_unescape(body, escape)
            out.append(Token(IDENT, sql[i:end], name, quoted=True))
            i = after
        elif c in "eE" and sql.startswith("'", i + 1):
            i = _quoted_end(sql, i + 1, "'", backslash=True)
            out.append(Token(STRING, "E''"))
        elif c in "bBxXnN" and sql.startswith("'", i + 1):
            i = _quoted_end(sql, i + 1, "'", backslash=False)
            out.append(Token(STRING, "''"))
        elif c == "'":
            i = _quoted_end(sql, i, "'", backslash=False)
            out.append(Token(STRING, "''"))
        elif c == '"':
            end = _quoted_end(sql, i, '"', backslash=False)
            out.append(Token(IDENT, sql[i:end], sql[i + 1 : end - 1].replace('""', '"'), True))
            i = end
        elif c == "$" and (m := _DOLLAR_TAG.match(sql, i)):
            close = sql.find(m.group(0), m.end())
            if close < 0:
                raise SqlUnreadable("a $$ string is never closed")
            i = close + len(m.group(0))
            out.append(Token(STRING, "$$"))
        elif c == "$" and (m := _PARAM.match(sql, i)):
            out.append(Token(PARAM, m.group(0)))
            i = m.end()
        elif _ident_start(c):
            j = i + 1
            while j < n and _ident_char(sql[j]):
                j += 1
            word = sql[i:j]
            out.append(Token(IDENT, word, _fold(word)))
            i = j
        elif c in _DIGITS or (c == "." and i + 1 < n and sql[i + 1] in _DIGITS):
            m = _NUMBER.match(sql, i)
            assert m is not None
            out.append(Token(NUMBER, m.group(0)))
            i = m.end()
        elif c in _PUNCT:
            out.append(Token(PUNCT, c))
            i += 1
        elif c in _OP_CHARS:
            out.append(Token(OP, c))  # one character each: comments are found between them
            i += 1
        elif c == "\\":
            out.append(Token(BACKSLASH, c))
            i += 1
        else:
            out.append(Token(OTHER, c))
            i += 1
    return out


def _fold(word: str) -> str:
    """An unquoted identifier as the server folds it: ASCII letters to lower case."""
    return word.translate(_LOWER)


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _line_end(sql: str, i: int) -> int:
    """A ``--`` comment ends at a newline or a carriage return, as the server's does."""
    ends = [j for j in (sql.find("\n", i), sql.find("\r", i)) if j >= 0]
    return min(ends) if ends else len(sql)


def _comment_end(sql: str, i: int) -> int:
    depth, i, n = 1, i + 2, len(sql)
    while i < n and depth:
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    if depth:
        raise SqlUnreadable("a /* comment is never closed")
    return i


def _quoted_end(sql: str, i: int, quote: str, *, backslash: bool) -> int:
    """Index after the closing quote of the literal whose opening quote is at ``i``."""
    j, n = i + 1, len(sql)
    while j < n:
        if backslash and sql[j] == "\\":
            j += 2
            continue
        if sql[j] == quote:
            if sql.startswith(quote * 2, j):
                j += 2
                continue
            return j + 1
        j += 1
    raise SqlUnreadable(f"a {quote} quote is never closed")


def _skip_blank(sql: str, i: int) -> int:
    while i < len(sql):
        if sql[i] in _SPACE:
            i += 1
        elif sql.startswith("--", i):
            i = _line_end(sql, i)
        elif sql.startswith("/*", i):
            i = _comment_end(sql, i)
        else:
            break
    return i


def _after_uescape(sql: str, end: int) -> tuple[int, str]:
    """Where a ``U&`` literal ends with its optional ``UESCAPE 'c'``, and its escape."""
    j = _skip_blank(sql, end)
    word = sql[j : j + 7]
    if word.upper() != "UESCAPE" or (j + 7 < len(sql) and _ident_char(sql[j + 7])):
        return end, "\\"
    k = _skip_blank(sql, j + 7)
    if not sql.startswith("'", k):
        raise SqlUnreadable("UESCAPE must be followed by a one-character string")
    close = _quoted_end(sql, k, "'", backslash=False)
    escape = sql[k + 1 : close - 1].replace("''", "'")
    if len(escape) != 1 or escape in "0123456789abcdefABCDEF+'\" \t\n\r\f\v":
        raise SqlUnreadable("invalid UESCAPE character")
    return close, escape


def _unicode_unescape(body: str, escape: str) -> str:
    """A ``U&`` body with its escapes decoded; SqlUnreadable when one is invalid."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != escape:
            out.append(c)
            i += 1
            continue
        if body.startswith(escape, i + 1):
            out.append(escape)
            i += 2
            continue
        if body.startswith("+", i + 1):
            digits, i = body[i + 2 : i + 8], i + 8
        else:
            digits, i = body[i + 1 : i + 5], i + 5
        if not re.fullmatch(r"[0-9A-Fa-f]{4}|[0-9A-Fa-f]{6}", digits):
            raise SqlUnreadable("invalid Unicode escape in a U& identifier")
        point = int(digits, 16)
        if 0xD800 <= point <= 0xDBFF:
            out.append(chr(point))  # a high surrogate: joined with the low one that follows
        elif 0xDC00 <= point <= 0xDFFF and out and 0xD800 <= ord(out[-1]) <= 0xDBFF:
            high = ord(out.pop())
            out.append(chr(0x10000 + ((high - 0xD800) << 10) + (point - 0xDC00)))
        elif point == 0 or point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
            raise SqlUnreadable("invalid Unicode escape in a U& identifier")
        else:
            out.append(chr(point))
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in out):
        raise SqlUnreadable("invalid Unicode surrogate in a U& identifier")
    return "".join(out)


# --- the rules ----------------------------------------------------------------------------

FIRST_WORDS = frozenset({"select", "show", "explain", "with"})
WRITE_WORDS = frozenset(
    {
        "insert", "update", "delete", "merge", "truncate", "drop", "alter", "create",
        "grant", "revoke", "copy", "call", "do", "vacuum", "analyze", "analyse", "reindex",
        "cluster", "lock", "refresh", "import", "listen", "notify", "unlisten", "prepare",
        "execute", "deallocate", "discard", "begin", "commit", "rollback", "abort",
        "savepoint", "checkpoint", "into", "reassign",
    }
)  # fmt: skip
"""Words that make a statement change something (or hold locks, or change the session),
wherever they stand unquoted. ``into`` catches SELECT ... INTO (a new table);
``analyze`` catches EXPLAIN ANALYZE, which runs its statement."""

DENIED_FUNCTIONS = frozenset(
    {
        # other sessions, the server process, its settings
        "pg_terminate_backend", "pg_cancel_backend", "pg_signal_backend", "pg_reload_conf",
        "pg_rotate_logfile", "pg_rotate_logfile_old", "pg_log_backend_memory_contexts",
        "set_config",
        # WAL, backups, recovery, replication
        "pg_switch_wal", "pg_switch_xlog", "pg_promote", "pg_backup_start", "pg_backup_stop",
        "pg_start_backup", "pg_stop_backup", "pg_wal_replay_pause", "pg_wal_replay_resume",
        "pg_xlog_replay_pause", "pg_xlog_replay_resume", "pg_replication_slot_advance",
        "pg_sync_replication_slots", "pg_import_system_collations",
        # the server's files
        "pg_stat_file", "pg_logdir_ls", "loread", "lowrite",
        # SQL given as text, run by the function
        "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml",
        "cursor_to_xmlschema", "ts_stat", "ts_rewrite", "connectby",
        # transaction ids, sequences, notifications
        "nextval", "setval", "txid_current", "pg_current_xact_id", "pg_notify",
    }
)  # fmt: skip
"""Functions a READ ONLY transaction still lets act outside it (or that the server
refuses there anyway, refused here first with a clearer word)."""

DENIED_PREFIXES = (
    "pg_advisory",  # session and transaction advisory locks, taken and released
    "pg_try_advisory",
    "pg_sleep",  # pg_sleep, pg_sleep_for, pg_sleep_until
    "pg_create_",  # replication slots, restore points
    "pg_drop_",
    "pg_copy_",
    "pg_logical_",  # decoding that consumes a slot, emitting WAL messages
    "pg_replication_origin",
    "pg_stat_reset",
    "pg_stat_statements_reset",
    "pg_read_",  # pg_read_file, pg_read_binary_file
    "pg_ls_",  # pg_ls_dir, pg_ls_logdir, pg_ls_waldir...
    "pg_file_",  # adminpack: write, rename, unlink, sync
    "pg_restore_",  # planner statistics (PostgreSQL 18)
    "pg_clear_",
    "lo_",  # large objects: import and export files, create, unlink
    "dblink",  # another connection: our READ ONLY transaction does not bind it
    "pg_background",  # SQL run by a background worker
    "crosstab",  # tablefunc: runs the query given as text
    "binary_upgrade_",
)
"""Families of such functions, by the start of their names."""

DENIED_SCHEMAS = frozenset({"cron", "dblink", "pg_background", "partman"})
"""Schemas of extensions whose functions schedule or run SQL outside the transaction."""


def denied_function(name: str, schema: str = "") -> bool:
    """Is a call of ``schema.name`` (schema '' when not written) refused?"""
    low = name.casefold()
    return (
        low in DENIED_FUNCTIONS
        or low.startswith(DENIED_PREFIXES)
        or schema.casefold() in DENIED_SCHEMAS
    )


def read_only_problem(sql: str) -> str | None:
    """Why ``sql`` is not one plainly read-only statement; None when it is.

    The server must still run it in a READ ONLY transaction with a timeout
    (``PostgresBackend.diagnose`` does): this check stops what that does not.
    """
    try:
        toks = tokens(sql)
    except SqlUnreadable as exc:
        return str(exc)
    while toks and toks[-1].kind == PUNCT and toks[-1].text == ";":
        toks.pop()
    if not toks:
        return "no statement"
    if any(t.kind == PUNCT and t.text == ";" for t in toks):
        return "more than one statement (only one read-only statement may run)"
    first = toks[0]
    if first.kind != IDENT or first.quoted or first.value not in FIRST_WORDS:
        return (
            f"starts with {first.text[:20]!r}: only SELECT, SHOW, EXPLAIN or WITH ... SELECT"
            " may run"
        )
    if any(t.kind == BACKSLASH for t in toks):
        return "psql meta-commands (\\...) are not SQL"
    words = [t.value for t in toks if t.kind == IDENT and not t.quoted]
    for t in toks:
        if t.kind != IDENT:
            continue
        if not t.quoted and t.value in WRITE_WORDS:
            return f"{t.text.upper()} is not allowed in a read-only diagnostic"
        if t.quoted and t.value.casefold() in ("analyze", "analyse"):
            return f"{t.text} (EXPLAIN ANALYZE runs its statement) is not allowed"
    for index, t in enumerate(toks[:-1]):
        if t.kind == IDENT and toks[index + 1].kind == PUNCT and toks[index + 1].text == "(":
            schema = ""
            if index >= 2 and toks[index - 1].text == "." and toks[index - 2].kind == IDENT:
                schema = toks[index - 2].value
            if denied_function(t.value, schema):
                shown = t.text if not t.quoted else t.value
                if schema:
                    shown = f"{schema}.{shown}"
                return f"{shown}() changes state or reaches outside the database"
    if "for" in words and any(w in words for w in ("share", "key", "nowait", "skip")):
        return "row-locking clauses (FOR SHARE / FOR KEY SHARE) are not allowed"
    return None
