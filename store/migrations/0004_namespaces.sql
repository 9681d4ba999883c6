-- Index namespaces: a store location holds one or more, each one
-- embedding space (model and dimension); exactly one is active, and
-- searches read it. "default" is this schema's own tables (the store as it
-- was before namespaces); its model is recorded by its next upsert. Every
-- other namespace is a schema of its own (schema_name) with the same
-- tables, created by these same migrations.
CREATE TABLE index_namespaces (
	name        text PRIMARY KEY,
	model       text NOT NULL DEFAULT '',
	dimensions  integer NOT NULL DEFAULT 0,
	state       text NOT NULL CHECK (state IN ('building', 'active', 'retired')),
	schema_name text NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL DEFAULT now()
);

-- At most one active namespace (Activate retires the old one first, in
-- the same transaction).
CREATE UNIQUE INDEX index_namespaces_one_active ON index_namespaces ((true)) WHERE state = 'active';

INSERT INTO index_namespaces (name, dimensions, state)
SELECT 'default', coalesce((SELECT dimension FROM vector_dimension), 0), 'active';
