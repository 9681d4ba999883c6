-- Tombstones of deleted documents: every version up to and including
-- up_to is removed, and chunks of those versions arriving later are
-- ignored; a newer version (the document written again) is indexed.
CREATE TABLE deleted_documents (
	tenant_id  text NOT NULL,
	doc_id     text NOT NULL,
	up_to      bigint NOT NULL,
	deleted_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, doc_id)
);
