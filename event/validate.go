package event

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// Validate checks the invariants that every stage relies on for the
// messages of package ragpipe.v1 (see the package documentation); other
// messages pass unchecked. Encode and Decode call it; its errors are not
// classified, Encode and Decode wrap them with fault.Record.
func Validate(msg proto.Message) error {
	switch m := msg.(type) {
	case *ragpipev1.DocumentRaw:
		return errors.Join(
			checkDocument(m.GetTenantId(), m.GetDocId(), m.GetDocVersion()),
			checkRawBody(m),
		)
	case *ragpipev1.ChunkParsed:
		return errors.Join(
			checkDocument(m.GetTenantId(), m.GetDocId(), m.GetDocVersion()),
			checkChunk(m.GetChunkIndex(), m.GetChunkCount()),
		)
	case *ragpipev1.ChunkEmbedded:
		var errVector error
		if len(m.GetVector()) == 0 {
			errVector = errors.New("empty vector")
		}
		return errors.Join(
			checkDocument(m.GetTenantId(), m.GetDocId(), m.GetDocVersion()),
			checkChunk(m.GetChunkIndex(), m.GetChunkCount()),
			errVector,
		)
	case *ragpipev1.DocumentFailed:
		var errChunk error
		if m.ChunkIndex != nil && m.GetChunkIndex() < 0 {
			errChunk = fmt.Errorf("negative chunk_index %d", m.GetChunkIndex())
		}
		return errors.Join(
			checkDocument(m.GetTenantId(), m.GetDocId(), m.GetDocVersion()),
			errChunk,
		)
	case *ragpipev1.DocumentDeleted:
		return checkDocument(m.GetTenantId(), m.GetDocId(), m.GetDocVersion())
	case *ragpipev1.DocumentIndexed:
		var errCount error
		if m.GetChunkCount() < 0 {
			errCount = fmt.Errorf("negative chunk_count %d", m.GetChunkCount())
		}
		return errors.Join(
			checkDocument(m.GetTenantId(), m.GetDocId(), m.GetDocVersion()),
			errCount,
		)
	case *ragpipev1.CatalogEntry:
		var errHash error
		if m.GetDocumentHash() == "" {
			errHash = errors.New("missing document_hash")
		}
		return errors.Join(
			checkDocument(m.GetTenantId(), m.GetDocId(), m.GetDocVersion()),
			errHash,
		)
	default:
		return nil
	}
}

func checkDocument(tenantID, docID string, docVersion int64) error {
	var errs []error
	switch {
	case tenantID == "":
		errs = append(errs, errors.New("missing tenant_id"))
	case strings.ContainsRune(tenantID, KeySeparator):
		errs = append(errs, fmt.Errorf("tenant_id %q contains %q", tenantID, KeySeparator))
	}
	if docID == "" {
		errs = append(errs, errors.New("missing doc_id"))
	}
	if docVersion < 0 {
		errs = append(errs, fmt.Errorf("negative doc_version %d", docVersion))
	}
	return errors.Join(errs...)
}

func checkChunk(index, count int32) error {
	if index < 0 || index >= count {
		return fmt.Errorf("chunk_index %d out of [0, chunk_count=%d)", index, count)
	}
	return nil
}

// checkRawBody: exactly one of content and content_ref, inline content
// within RawInlineMax and of content_size bytes, a content hash.
func checkRawBody(m *ragpipev1.DocumentRaw) error {
	var errs []error
	switch b := m.GetBody().(type) {
	case nil:
		errs = append(errs, errors.New("neither content nor content_ref"))
	case *ragpipev1.DocumentRaw_Content:
		if len(b.Content) > RawInlineMax {
			errs = append(errs, fmt.Errorf("inline content of %d bytes is over %d: use content_ref", len(b.Content), RawInlineMax))
		}
		if int64(len(b.Content)) != m.GetContentSize() {
			errs = append(errs, fmt.Errorf("content of %d bytes, content_size %d", len(b.Content), m.GetContentSize()))
		}
	case *ragpipev1.DocumentRaw_ContentRef:
		if b.ContentRef == "" {
			errs = append(errs, errors.New("empty content_ref"))
		}
	}
	if m.GetContentSize() < 0 {
		errs = append(errs, fmt.Errorf("negative content_size %d", m.GetContentSize()))
	}
	if !strings.Contains(m.GetContentHash(), ":") {
		errs = append(errs, fmt.Errorf("content_hash %q is not <algorithm>:<hex>", m.GetContentHash()))
	}
	return errors.Join(errs...)
}
