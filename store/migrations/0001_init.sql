-- ragpipe vector store, schema version 1.
--
-- The embedding column has no dimension here: the first upsert fixes the
-- store's dimension (vector_dimension), narrows the column to vector(N) and
-- builds the HNSW index, in its own transaction (see store/postgres.go).

CREATE TABLE vector_dimension (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	dimension integer NOT NULL CHECK (dimension > 0),
	set_at    timestamptz NOT NULL DEFAULT now()
);

-- The searchable version of each document: its newest complete version.
CREATE TABLE documents (
	tenant_id    text NOT NULL,
	doc_id       text NOT NULL,
	live_version bigint NOT NULL,
	updated_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, doc_id)
);

-- Tombstones of failed document versions: their late chunks are ignored.
CREATE TABLE failed_versions (
	tenant_id   text NOT NULL,
	doc_id      text NOT NULL,
	doc_version bigint NOT NULL,
	failed_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, doc_id, doc_version)
);

CREATE TABLE chunks (
	tenant_id   text NOT NULL,
	doc_id      text NOT NULL,
	doc_version bigint NOT NULL,
	chunk_index integer NOT NULL,
	chunk_count integer NOT NULL,
	text        text NOT NULL,
	-- title, source, heading, model
	metadata    jsonb NOT NULL DEFAULT '{}',
	embedding   vector NOT NULL,
	-- true exactly for the chunks of the document's live_version
	searchable  boolean NOT NULL DEFAULT false,
	PRIMARY KEY (tenant_id, doc_id, doc_version, chunk_index)
);

CREATE INDEX chunks_tenant_searchable ON chunks (tenant_id) WHERE searchable;
