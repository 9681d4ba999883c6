package event_test

import (
	"testing"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
)

func TestKey(t *testing.T) {
	if got, want := string(event.Key("acme", "doc-1")), "acme/doc-1"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		key, tenant, doc string
	}{
		{"acme/doc-1", "acme", "doc-1"},
		// Document IDs may contain '/': the key splits at the first one.
		{"acme/docs/a/b.md", "acme", "docs/a/b.md"},
		{"t/é/ü", "t", "é/ü"},
	}
	for _, tt := range tests {
		tenant, doc, err := event.ParseKey([]byte(tt.key))
		if err != nil || tenant != tt.tenant || doc != tt.doc {
			t.Errorf("ParseKey(%q) = %q, %q, %v; want %q, %q, nil", tt.key, tenant, doc, err, tt.tenant, tt.doc)
		}
		tenant, doc, err = event.ParseKey(event.Key(tt.tenant, tt.doc))
		if err != nil || tenant != tt.tenant || doc != tt.doc {
			t.Errorf("ParseKey(Key(%q, %q)) = %q, %q, %v", tt.tenant, tt.doc, tenant, doc, err)
		}
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, key := range []string{"", "acme", "/doc", "acme/", "/"} {
		tenant, doc, err := event.ParseKey([]byte(key))
		if err == nil {
			t.Errorf("ParseKey(%q) = %q, %q, nil; want an error", key, tenant, doc)
			continue
		}
		if c := fault.ClassOf(err); c != fault.ClassRecord {
			t.Errorf("ParseKey(%q): class %v, want record (%v)", key, c, err)
		}
	}
	if _, _, err := event.ParseKey(nil); err == nil {
		t.Error("ParseKey(nil) succeeded")
	}
}
