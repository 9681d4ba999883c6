package event

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ragpipe/ragpipe/fault"
)

// KeySeparator separates the tenant ID from the document ID in a record key.
const KeySeparator = '/'

// Key returns the record key of a document: "<tenant_id>/<doc_id>".
// tenantID must not contain '/' (the Encode checks reject such messages);
// docID may.
func Key(tenantID, docID string) []byte {
	k := make([]byte, 0, len(tenantID)+1+len(docID))
	k = append(k, tenantID...)
	k = append(k, KeySeparator)
	return append(k, docID...)
}

// ParseKey splits a record key made by Key at its first '/'. A key without
// '/', or with an empty tenant or document ID, is a fault.Record error.
func ParseKey(key []byte) (tenantID, docID string, err error) {
	tenantID, docID, ok := strings.Cut(string(key), string(KeySeparator))
	switch {
	case !ok:
		err = errors.New("no '/' between tenant and document ID")
	case tenantID == "":
		err = errors.New("empty tenant ID")
	case docID == "":
		err = errors.New("empty document ID")
	}
	if err != nil {
		return "", "", fault.Record(fmt.Errorf("event: bad record key %q: %w", key, err))
	}
	return tenantID, docID, nil
}
