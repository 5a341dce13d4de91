"""access log chain and append-only trigger

Revision ID: 33eaeddc7283
Revises: be8454fda3c1
Create Date: 2026-11-26 04:10:36.493309
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "33eaeddc7283"
down_revision = "be8454fda3c1"
branch_labels = None
depends_on = None


# The chain and the append-only rule live in the database, so no process (however many
# workers, whatever their code) can fork the chain or rewrite an entry. api/core/audit/
# chain.py computes the same canonical encoding in Python; keep the two in step.
#
# Appends are serialized by a transaction-scoped advisory lock taken in a BEFORE INSERT
# *statement* trigger: it runs before the rows' identity values are drawn, so sequence
# order is lock order is chain order. Each row trigger then links to the last row.
# DELETE is refused unless access_log_prune() (SECURITY DEFINER, the only code that sets
# the transaction-local setting the trigger checks) runs it; UPDATE is always refused.
# The advisory lock key, 4171406009, is written out in the SQL below.

UPGRADE_SQL = (
    """
CREATE FUNCTION access_log_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value IS NULL THEN '~'
                ELSE octet_length(convert_to(value, 'UTF8'))::text || ':' || value END
$$
""",
    """
CREATE FUNCTION access_log_canonical(entry access_log) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT 'madoguchi-access-log-v1|'
        || access_log_text(entry.sequence::text)
        || access_log_text(to_char(entry.occurred_at AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || access_log_text(entry.zone)
        || access_log_text(entry.actor)
        || access_log_text(entry.actor_kind)
        || access_log_text(entry.terminal)
        || access_log_text(entry.client_address)
        || access_log_text(entry.method)
        || access_log_text(entry.route)
        || 'A' || jsonb_array_length(entry.resource_ids)::text || ':'
        || coalesce((SELECT string_agg(access_log_text(item.element), '' ORDER BY item.position)
                     FROM jsonb_array_elements_text(entry.resource_ids)
                          WITH ORDINALITY AS item(element, position)), '')
        || access_log_text(entry.outcome)
        || access_log_text(entry.status::text)
        || access_log_text(entry.duration_ms::text)
        || access_log_text(entry.request_id)
        || 'D' || (SELECT count(*) FROM jsonb_object_keys(entry.detail))::text || ':'
        || coalesce((SELECT string_agg(access_log_text(pair.key) || access_log_text(pair.value),
                                       '' ORDER BY pair.key COLLATE "C")
                     FROM jsonb_each_text(entry.detail) AS pair), '')
        || access_log_text(entry.previous_hash)
$$
""",
    """
CREATE FUNCTION access_log_serialize() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(4171406009);
    RETURN NULL;
END
$$
""",
    """
CREATE FUNCTION access_log_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_hash text;
BEGIN
    -- Already held from the statement trigger; taking it again costs nothing.
    PERFORM pg_advisory_xact_lock(4171406009);
    IF jsonb_typeof(NEW.resource_ids) IS DISTINCT FROM 'array' OR EXISTS (
        SELECT 1 FROM jsonb_array_elements(NEW.resource_ids) AS item(value)
        WHERE jsonb_typeof(item.value) <> 'string'
    ) THEN
        RAISE EXCEPTION 'access_log.resource_ids must be an array of strings';
    END IF;
    IF jsonb_typeof(NEW.detail) IS DISTINCT FROM 'object' OR EXISTS (
        SELECT 1 FROM jsonb_each(NEW.detail) AS pair WHERE jsonb_typeof(pair.value) <> 'string'
    ) THEN
        RAISE EXCEPTION 'access_log.detail must be an object of strings';
    END IF;
    SELECT entry_hash INTO last_hash FROM access_log ORDER BY sequence DESC LIMIT 1;
    NEW.previous_hash := coalesce(last_hash, repeat('0', 64));
    NEW.entry_hash := encode(sha256(convert_to(access_log_canonical(NEW), 'UTF8')), 'hex');
    RETURN NEW;
END
$$
""",
    """
CREATE FUNCTION access_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.sequence <= coalesce(
        nullif(current_setting('madoguchi.access_log_prune_through', true), '')::bigint, -1
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'access_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    """
CREATE FUNCTION access_log_prune(
    through_sequence bigint,
    through_hash text,
    archive_name text,
    archive_sha256 text,
    zone_name text,
    actor_name text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    found_hash text;
    removed bigint;
BEGIN
    SELECT entry_hash INTO found_hash FROM access_log WHERE sequence = through_sequence;
    IF found_hash IS DISTINCT FROM through_hash THEN
        RAISE EXCEPTION 'access_log_prune: entry % does not carry the archived hash',
            through_sequence;
    END IF;
    -- The checkpoint is itself a chained entry, written before the deletion so it links
    -- to the current head; verify anchors the remaining chain on its through_hash.
    INSERT INTO access_log (occurred_at, zone, actor, actor_kind, method, route,
                            resource_ids, outcome, detail)
    VALUES (clock_timestamp(), zone_name, actor_name, 'system', 'CLI',
            'audit archive-and-prune', '[]', 'audit_pruned',
            jsonb_build_object('through_sequence', through_sequence::text,
                               'through_hash', through_hash,
                               'archive', archive_name,
                               'archive_sha256', archive_sha256));
    PERFORM set_config('madoguchi.access_log_prune_through', through_sequence::text, true);
    DELETE FROM access_log WHERE sequence <= through_sequence;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('madoguchi.access_log_prune_through', '', true);
    RETURN removed;
END
$$
""",
    """
CREATE TRIGGER access_log_serialize BEFORE INSERT ON access_log
FOR EACH STATEMENT EXECUTE FUNCTION access_log_serialize()
""",
    """
CREATE TRIGGER access_log_chain BEFORE INSERT ON access_log
FOR EACH ROW EXECUTE FUNCTION access_log_chain()
""",
    """
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
FOR EACH ROW EXECUTE FUNCTION access_log_refuse_change()
""",
)

DOWNGRADE_SQL = (
    "DROP TRIGGER IF EXISTS access_log_append_only ON access_log",
    "DROP TRIGGER IF EXISTS access_log_chain ON access_log",
    "DROP TRIGGER IF EXISTS access_log_serialize ON access_log",
    "DROP FUNCTION IF EXISTS access_log_prune(bigint, text, text, text, text, text)",
    "DROP FUNCTION IF EXISTS access_log_refuse_change()",
    "DROP FUNCTION IF EXISTS access_log_chain()",
    "DROP FUNCTION IF EXISTS access_log_serialize()",
    "DROP FUNCTION IF EXISTS access_log_canonical(access_log)",
    "DROP FUNCTION IF EXISTS access_log_text(text)",
)


def upgrade() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_access_log_previous_hash"), ["previous_hash"]
        )
        batch_op.create_index(batch_op.f("ix_access_log_occurred_at"), ["occurred_at"])
        batch_op.create_index(batch_op.f("ix_access_log_actor"), ["actor"])
        batch_op.create_index(batch_op.f("ix_access_log_request_id"), ["request_id"])
    for statement in UPGRADE_SQL:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE_SQL:
        op.execute(statement)
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_request_id"))
        batch_op.drop_index(batch_op.f("ix_access_log_actor"))
        batch_op.drop_index(batch_op.f("ix_access_log_occurred_at"))
        batch_op.drop_constraint(batch_op.f("uq_access_log_previous_hash"), type_="unique")
